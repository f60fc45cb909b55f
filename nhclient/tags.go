package nhclient

import (
	"fmt"
	"strings"
)

// Tag-expression limits of Notification Hubs.
const (
	MaxTagLength           = 120 // characters in one tag
	MaxTagsOrOnly          = 20  // tags in an expression that uses only ||
	MaxTagsInExpression    = 6   // tags in an expression that uses && or !
	MaxTagsPerInstallation = 60  // tags on one installation
)

// ValidateTag checks one tag: 1 to 120 characters of letters, digits and
// _ @ # . : -, or one of NH's implicit tags $InstallationId:{id} and
// $UserId:{id}.
func ValidateTag(tag string) error {
	if tag == "" {
		return fmt.Errorf("%w: empty tag", ErrInvalidTag)
	}
	if len(tag) > MaxTagLength {
		return fmt.Errorf("%w: tag is %d characters, over the limit of %d", ErrInvalidTag, len(tag), MaxTagLength)
	}
	body := tag
	for _, p := range []string{"$InstallationId:{", "$UserId:{"} {
		if strings.HasPrefix(tag, p) && strings.HasSuffix(tag, "}") && len(tag) > len(p)+1 {
			body = tag[len(p) : len(tag)-1]
			break
		}
	}
	for i := 0; i < len(body); i++ {
		if !isTagChar(body[i]) {
			return fmt.Errorf("%w: tag %q has character %q; allowed are letters, digits and _ @ # . : -", ErrInvalidTag, tag, body[i])
		}
	}
	return nil
}

func isTagChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '_' || c == '@' || c == '#' || c == '.' || c == ':' || c == '-'
}

// ValidateTagExpression checks a tag expression: tags joined with &&, || and
// !, grouped with parentheses, each tag valid (see ValidateTag), at most 20
// tags when the expression uses only ||, otherwise at most 6.
func ValidateTagExpression(expr string) error {
	p := tagExprParser{src: expr}
	if strings.TrimSpace(expr) == "" {
		return fmt.Errorf("%w: empty expression", ErrInvalidTagExpression)
	}
	if err := p.parseOr(0); err != nil {
		return err
	}
	p.skipSpace()
	if p.pos < len(p.src) {
		return p.errorf("unexpected %q", p.src[p.pos:min(p.pos+8, len(p.src))])
	}
	limit := MaxTagsOrOnly
	if p.usesAndOrNot {
		limit = MaxTagsInExpression
	}
	if p.tags > limit {
		ops := "only ||"
		if p.usesAndOrNot {
			ops = "&& or !"
		}
		return fmt.Errorf("%w: %d tags; an expression with %s may hold at most %d", ErrInvalidTagExpression, p.tags, ops, limit)
	}
	return nil
}

// tagExprParser is a recursive-descent parser of
//
//	or    = and { "||" and }
//	and   = unary { "&&" unary }
//	unary = "!" unary | "(" or ")" | tag
type tagExprParser struct {
	src          string
	pos          int
	tags         int
	usesAndOrNot bool
}

const maxTagExprDepth = 64

func (p *tagExprParser) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: at offset %d: %s", ErrInvalidTagExpression, p.pos, fmt.Sprintf(format, args...))
}

func (p *tagExprParser) skipSpace() {
	for p.pos < len(p.src) && (p.src[p.pos] == ' ' || p.src[p.pos] == '\t') {
		p.pos++
	}
}

func (p *tagExprParser) accept(op string) bool {
	p.skipSpace()
	if strings.HasPrefix(p.src[p.pos:], op) {
		p.pos += len(op)
		return true
	}
	return false
}

func (p *tagExprParser) parseOr(depth int) error {
	if err := p.parseAnd(depth); err != nil {
		return err
	}
	for p.accept("||") {
		if err := p.parseAnd(depth); err != nil {
			return err
		}
	}
	return nil
}

func (p *tagExprParser) parseAnd(depth int) error {
	if err := p.parseUnary(depth); err != nil {
		return err
	}
	for p.accept("&&") {
		p.usesAndOrNot = true
		if err := p.parseUnary(depth); err != nil {
			return err
		}
	}
	return nil
}

func (p *tagExprParser) parseUnary(depth int) error {
	if depth > maxTagExprDepth {
		return p.errorf("nested more than %d levels", maxTagExprDepth)
	}
	p.skipSpace()
	if p.pos >= len(p.src) {
		return p.errorf("expected a tag, '!' or '(' but the expression ended")
	}
	switch p.src[p.pos] {
	case '!':
		p.pos++
		p.usesAndOrNot = true
		return p.parseUnary(depth + 1)
	case '(':
		p.pos++
		if err := p.parseOr(depth + 1); err != nil {
			return err
		}
		if !p.accept(")") {
			return p.errorf("missing ')'")
		}
		return nil
	}
	start := p.pos
	for p.pos < len(p.src) && isTagExprTagChar(p.src[p.pos]) {
		p.pos++
	}
	if start == p.pos {
		return p.errorf("expected a tag, '!' or '(' but found %q", p.src[p.pos])
	}
	if err := ValidateTag(p.src[start:p.pos]); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidTagExpression, err)
	}
	p.tags++
	return nil
}

func isTagExprTagChar(c byte) bool {
	return isTagChar(c) || c == '$' || c == '{' || c == '}'
}
