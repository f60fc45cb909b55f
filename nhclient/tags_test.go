package nhclient

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestValidateTag(t *testing.T) {
	for _, ok := range []string{"sports", "user@example.com", "a_b-c.d:e#f", strings.Repeat("x", 120), "$InstallationId:{abc-123}", "$UserId:{bob}"} {
		assert.NoError(t, ValidateTag(ok), ok)
	}
	for _, bad := range []string{"", "has space", "a/b", "a,b", "ünï", strings.Repeat("x", 121), "$Other:{x}", "a&&b"} {
		assert.ErrorIs(t, ValidateTag(bad), ErrInvalidTag, bad)
	}
}

func TestValidateTagExpression(t *testing.T) {
	or20 := strings.TrimSuffix(strings.Repeat("t||", 20), "||")
	or21 := or20 + "||u"
	tests := []struct {
		expr    string
		wantErr string // "" means valid
	}{
		{"sports", ""},
		{"sports && !politics", ""},
		{"(a || b) && c", ""},
		{"!(a && b)", ""},
		{"!!a", ""},
		{"a||b", ""},
		{" ( a ) ", ""},
		{"$InstallationId:{x} || vip", ""},
		{or20, ""},
		{or21, "21 tags; an expression with only || may hold at most 20"},
		{"a && b && c && d && e && f", ""},
		{"a && b && c && d && e && f && g", "7 tags; an expression with && or ! may hold at most 6"},
		{"!a || b || c || d || e || f || g", "at most 6"},
		{"", "empty expression"},
		{"   ", "empty expression"},
		{"a &&", "expression ended"},
		{"&& a", "found '&'"},
		{"a & b", "unexpected"},
		{"a | b", "unexpected"},
		{"(a || b", "missing ')'"},
		{"a || b)", "unexpected \")\""},
		{"()", "found ')'"},
		{"a b", "unexpected \"b\""},
		{"a,b", "unexpected"},
		{"bad tag!", "unexpected"},
		{"x" + strings.Repeat("y", 120), "over the limit of 120"},
		{strings.Repeat("(", 100) + "a" + strings.Repeat(")", 100), "nested more than"},
	}
	for _, tt := range tests {
		err := ValidateTagExpression(tt.expr)
		if tt.wantErr == "" {
			assert.NoError(t, err, tt.expr)
			continue
		}
		if assert.Error(t, err, tt.expr) {
			assert.True(t, errors.Is(err, ErrInvalidTagExpression), "%q: %v", tt.expr, err)
			assert.Contains(t, err.Error(), tt.wantErr, tt.expr)
		}
	}
}

func FuzzValidateTagExpression(f *testing.F) {
	for _, s := range []string{"a", "a && !b", "(a||b)&&c", "((", "!", "a||", "$InstallationId:{x}", strings.Repeat("!", 200) + "a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := ValidateTagExpression(s)
		if err != nil && !errors.Is(err, ErrInvalidTagExpression) {
			t.Fatalf("error does not wrap ErrInvalidTagExpression: %v", err)
		}
	})
}
