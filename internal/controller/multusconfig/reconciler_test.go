package multusconfig

import (
	"maps"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/runtime"
)

func TestWithManaged(t *testing.T) {
	const other = "example.com/kept"
	tests := []struct {
		name          string
		current, want map[string]string
		result        map[string]string
	}{
		{name: "nothing to do", current: nil, want: nil, result: nil},
		{name: "set on empty", current: nil, want: map[string]string{ResourceNameAnnotation: "r"},
			result: map[string]string{ResourceNameAnnotation: "r"}},
		{name: "change, keep others", current: map[string]string{ResourceNameAnnotation: "old", other: "x"},
			want: map[string]string{ResourceNameAnnotation: "new"}, result: map[string]string{ResourceNameAnnotation: "new", other: "x"}},
		{name: "remove when no longer wanted", current: map[string]string{ResourceNameAnnotation: "old", other: "x"},
			want: nil, result: map[string]string{other: "x"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := maps.Clone(tc.current)
			got := withManaged(tc.current, tc.want)
			if diff := cmp.Diff(tc.result, got); diff != "" {
				t.Errorf("annotations (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(before, tc.current); diff != "" {
				t.Errorf("current was modified (-before +after):\n%s", diff)
			}
		})
	}
}

// notes records the notes of the events it is given.
type notes struct{ got []string }

func (n *notes) Eventf(_, _ runtime.Object, _, _, _, note string, args ...any) {
	n.got = append(n.got, note)
	if note == "%s" && len(args) == 1 {
		n.got[len(n.got)-1] = args[0].(string)
	}
}

func (n *notes) AnnotatedEventf(_, _ runtime.Object, _ map[string]string, _, _, _, note string, args ...any) {
	n.Eventf(nil, nil, "", "", "", note, args...)
}

func TestWarnCutsLongNotes(t *testing.T) {
	rec := &notes{}
	r := &Reconciler{Recorder: rec}
	r.warn(newSMC("net", seedSpec()), nil, ReasonInvalidSpec, "Render", strings.Repeat("é", 2000))
	if len(rec.got) != 1 {
		t.Fatalf("got %d events, want 1", len(rec.got))
	}
	if n := rec.got[0]; len(n) > maxEventNote || !utf8.ValidString(n) || !strings.HasSuffix(n, "…") {
		t.Fatalf("note of %d bytes, valid UTF-8 %v: want at most %d bytes, valid, ending in …", len(n), utf8.ValidString(n), maxEventNote)
	}
}
