package nhtest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Rights an authorization rule can hold.
const (
	RightListen = "Listen"
	RightSend   = "Send"
	RightManage = "Manage"
)

// Rule is a shared access authorization rule of the emulated namespace.
type Rule struct {
	Name   string   `json:"name"`
	Key    string   `json:"key"`
	Rights []string `json:"rights"`
}

func (r Rule) has(right string) bool {
	for _, x := range r.Rights {
		if x == right || x == RightManage {
			return true
		}
	}
	return false
}

// authError is a token the service would refuse, with NH's detail text.
type authError struct {
	status int
	detail string
}

// verifySAS checks the Authorization header of req the way the service
// does: a SharedAccessSignature with sr, sig, se and skn; a known key name;
// a signature made with that key over the raw sr and se; an expiry in the
// future; a resource that covers the request URL. It returns the rule.
func verifySAS(req *http.Request, rules []Rule, now time.Time) (Rule, *authError) {
	h := req.Header.Get("Authorization")
	if h == "" {
		return Rule{}, &authError{401, "MissingToken: The authorization header was not found"}
	}
	const prefix = "SharedAccessSignature "
	if !strings.HasPrefix(h, prefix) {
		return Rule{}, &authError{401, "InvalidToken: the token is not a SharedAccessSignature"}
	}
	raw := map[string]string{}
	for part := range strings.SplitSeq(strings.TrimSpace(h[len(prefix):]), "&") {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return Rule{}, &authError{401, "InvalidToken: malformed token field"}
		}
		if _, dup := raw[k]; dup {
			return Rule{}, &authError{401, "InvalidToken: duplicate token field " + k}
		}
		raw[k] = v
	}
	for _, k := range []string{"sr", "sig", "se", "skn"} {
		if raw[k] == "" {
			return Rule{}, &authError{401, "InvalidToken: the token lacks " + k}
		}
	}
	skn, err := url.QueryUnescape(raw["skn"])
	if err != nil {
		return Rule{}, &authError{401, "InvalidToken: skn is not URL-encoded"}
	}
	var rule Rule
	found := false
	for _, r := range rules {
		if r.Name == skn {
			rule, found = r, true
			break
		}
	}
	if !found {
		return Rule{}, &authError{401, "InvalidSignature: the key name " + skn + " is not a rule of this entity"}
	}
	sigText, err := url.QueryUnescape(raw["sig"])
	if err != nil {
		return Rule{}, &authError{401, "InvalidSignature: sig is not URL-encoded"}
	}
	sig, err := base64.StdEncoding.DecodeString(sigText)
	if err != nil {
		return Rule{}, &authError{401, "InvalidSignature: sig is not Base64"}
	}
	mac := hmac.New(sha256.New, []byte(rule.Key))
	mac.Write([]byte(raw["sr"] + "\n" + raw["se"]))
	if !hmac.Equal(sig, mac.Sum(nil)) {
		return Rule{}, &authError{401, "InvalidSignature: The token has an invalid signature"}
	}
	se, err := strconv.ParseInt(raw["se"], 10, 64)
	if err != nil {
		return Rule{}, &authError{401, "InvalidToken: se is not a number"}
	}
	if now.Unix() >= se {
		return Rule{}, &authError{401, "ExpiredToken: The token is expired"}
	}
	sr, err := url.QueryUnescape(raw["sr"])
	if err != nil {
		return Rule{}, &authError{401, "InvalidAudience: sr is not URL-encoded"}
	}
	sr = strings.TrimRight(strings.ToLower(sr), "/")
	if s, ok := strings.CutPrefix(sr, "sb://"); ok {
		sr = "https://" + s
	}
	target := "https://" + strings.ToLower(req.Host) + strings.ToLower(req.URL.Path)
	if !strings.HasPrefix(target, sr) || (len(target) > len(sr) && target[len(sr)] != '/') {
		return Rule{}, &authError{401, fmt.Sprintf("InvalidAudience: The token audience %s does not cover %s", sr, target)}
	}
	return rule, nil
}
