package nhtest

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTagExpressionEvaluator(t *testing.T) {
	set := func(tags ...string) map[string]bool {
		m := map[string]bool{}
		for _, t := range tags {
			m[t] = true
		}
		return m
	}
	ab := set("a", "b")
	tests := []struct {
		expr string
		tags map[string]bool
		want bool
	}{
		{"a", ab, true},
		{"c", ab, false},
		{"!a", ab, false},
		{"!c", ab, true},
		{"!!a", ab, true},
		{"a && b", ab, true},
		{"a && c", ab, false},
		{"c && a", ab, false},
		{"a || c", ab, true},
		{"c || a", ab, true},
		{"c || d", ab, false},
		{"a && !b", ab, false},
		{"a && !c", ab, true},
		{"!a || b", ab, true},
		{"!a || !b", ab, false},
		{"!(a && b)", ab, false},
		{"!(a && c)", ab, true},
		{"(a || c) && b", ab, true},
		{"(c || d) && b", ab, false},
		{"a || b && c", ab, true}, // && binds tighter: a || (b && c)
		{"c && b || a", ab, true}, // (c && b) || a
		{"c && (b || a)", ab, false},
		{"(a)", ab, true},
		{"((a))", ab, true},
		{"( a && ( b || c ) )", ab, true},
		{"a&&b", ab, true},
		{"a||c", ab, true},
		{"!a&&!c", ab, false},
		{"!c && !d", ab, true},
		{"a,c", ab, true},  // comma list: OR-ed
		{"c,d", ab, false}, // comma list: none
		{"c, b", ab, true}, // comma list with space
		{"user@x.com", set("user@x.com"), true},
		{"a:b-c.d#e_f", set("a:b-c.d#e_f"), true},
		{"$InstallationId:{i1}", set("$InstallationId:{i1}"), true},
		{"$InstallationId:{i1} && vip", set("$InstallationId:{i1}"), false},
		{"A", ab, false}, // tags are case-sensitive
		{"a || b || c || d || e || f || g || h", set("h"), true},
		{"(a && b) || (c && d)", set("c", "d"), true},
		{"(a && b) || (c && d)", set("a", "d"), false},
		{"!(a || b)", set(), true},
		{"", set(), true}, // no expression: broadcast
	}
	require.GreaterOrEqual(t, len(tests), 40)
	for _, tt := range tests {
		e, err := parseTagExpr(tt.expr)
		require.NoError(t, err, tt.expr)
		assert.Equal(t, tt.want, e.eval(tt.tags), "%q over %v", tt.expr, tt.tags)
	}
}

func TestTagExpressionRejected(t *testing.T) {
	or21 := strings.TrimSuffix(strings.Repeat("t||", 21), "||")
	for _, bad := range []string{
		"a &&", "&& a", "a & b", "a | b", "(a", "a)", "()", "a b", "!", "a || || b",
		"bad tag", "a/b", strings.Repeat("x", 121), or21, "a && b && c && d && e && f && g",
		"!a || b || c || d || e || f || g", strings.Repeat("(", 200) + "a" + strings.Repeat(")", 200),
	} {
		_, err := parseTagExpr(bad)
		assert.Error(t, err, bad)
	}
	for _, ok := range []string{strings.TrimSuffix(strings.Repeat("t||", 20), "||"), "a && b && c && d && e && f"} {
		_, err := parseTagExpr(ok)
		assert.NoError(t, err, ok)
	}
}

func FuzzParseTagExpr(f *testing.F) {
	for _, s := range []string{"a", "a && !b", "(a||b)&&c", "a,b", "((", "!", "$InstallationId:{x}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := parseTagExpr(s)
		if err == nil {
			e.eval(map[string]bool{"a": true}) // must not panic
		}
	})
}
