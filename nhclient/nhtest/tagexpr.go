package nhtest

import (
	"errors"
	"fmt"
	"strings"
)

// tagExpr is a parsed tag expression, evaluated against a set of tags.
type tagExpr interface {
	eval(tags map[string]bool) bool
}

type tagLeaf string
type tagNot struct{ x tagExpr }
type tagAnd struct{ l, r tagExpr }
type tagOr struct{ l, r tagExpr }

func (t tagLeaf) eval(tags map[string]bool) bool { return tags[string(t)] }
func (t tagNot) eval(tags map[string]bool) bool  { return !t.x.eval(tags) }
func (t tagAnd) eval(tags map[string]bool) bool  { return t.l.eval(tags) && t.r.eval(tags) }
func (t tagOr) eval(tags map[string]bool) bool   { return t.l.eval(tags) || t.r.eval(tags) }

// matchAll is the audience of a broadcast.
type matchAll struct{}

func (matchAll) eval(map[string]bool) bool { return true }

// parseTagExpr parses the ServiceBusNotification-Tags header the way the
// service reads it: a tag expression of &&, ||, ! and parentheses, or a
// comma-separated list of tags (OR-ed). It enforces the service's limits:
// 120-character tags, at most 20 tags with only ||, otherwise 6.
func parseTagExpr(s string) (tagExpr, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return matchAll{}, nil
	}
	if strings.Contains(s, ",") && !strings.ContainsAny(s, "&|!()") {
		s = strings.Join(strings.Split(s, ","), "||")
	}
	toks, err := lexTags(s)
	if err != nil {
		return nil, err
	}
	p := &exprParser{toks: toks}
	e, err := p.or(0)
	if err != nil {
		return nil, err
	}
	if p.i != len(p.toks) {
		return nil, fmt.Errorf("unexpected %q in tag expression", p.toks[p.i])
	}
	limit := 20
	if p.complex {
		limit = 6
	}
	if p.leaves > limit {
		return nil, fmt.Errorf("tag expression has %d tags; the limit is %d", p.leaves, limit)
	}
	return e, nil
}

// lexTags splits an expression into the tokens "&&", "||", "!", "(", ")"
// and tags.
func lexTags(s string) ([]string, error) {
	var toks []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case c == '!' || c == '(' || c == ')':
			toks = append(toks, s[i:i+1])
			i++
		case c == '&' || c == '|':
			if i+1 >= len(s) || s[i+1] != c {
				return nil, fmt.Errorf("single %q in tag expression (use && or ||)", c)
			}
			toks = append(toks, s[i:i+2])
			i += 2
		default:
			j := i
			for j < len(s) && validTagByte(s[j]) {
				j++
			}
			if j == i {
				return nil, fmt.Errorf("character %q is not allowed in a tag", c)
			}
			if j-i > 120 {
				return nil, errors.New("a tag is longer than 120 characters")
			}
			toks = append(toks, s[i:j])
			i = j
		}
	}
	return toks, nil
}

func validTagByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		strings.IndexByte("_@#.:-${}", c) >= 0
}

type exprParser struct {
	toks    []string
	i       int
	leaves  int
	complex bool
}

func (p *exprParser) peek() string {
	if p.i < len(p.toks) {
		return p.toks[p.i]
	}
	return ""
}

func (p *exprParser) or(depth int) (tagExpr, error) {
	l, err := p.and(depth)
	if err != nil {
		return nil, err
	}
	for p.peek() == "||" {
		p.i++
		r, err := p.and(depth)
		if err != nil {
			return nil, err
		}
		l = tagOr{l, r}
	}
	return l, nil
}

func (p *exprParser) and(depth int) (tagExpr, error) {
	l, err := p.unary(depth)
	if err != nil {
		return nil, err
	}
	for p.peek() == "&&" {
		p.i++
		p.complex = true
		r, err := p.unary(depth)
		if err != nil {
			return nil, err
		}
		l = tagAnd{l, r}
	}
	return l, nil
}

func (p *exprParser) unary(depth int) (tagExpr, error) {
	if depth > 100 {
		return nil, errors.New("tag expression nests too deeply")
	}
	t := p.peek()
	switch t {
	case "":
		return nil, errors.New("tag expression ends where a tag was expected")
	case "!":
		p.i++
		p.complex = true
		x, err := p.unary(depth + 1)
		if err != nil {
			return nil, err
		}
		return tagNot{x}, nil
	case "(":
		p.i++
		x, err := p.or(depth + 1)
		if err != nil {
			return nil, err
		}
		if p.peek() != ")" {
			return nil, errors.New("missing ) in tag expression")
		}
		p.i++
		return x, nil
	case ")", "&&", "||":
		return nil, fmt.Errorf("unexpected %q in tag expression", t)
	}
	p.i++
	p.leaves++
	return tagLeaf(t), nil
}
