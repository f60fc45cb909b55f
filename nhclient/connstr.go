package nhclient

import (
	"fmt"
	"net/url"
	"strings"
)

// ConnectionString holds the parts of a Notification Hubs connection string,
// for example the one the Azure portal shows under "Access Policies":
//
//	Endpoint=sb://NS.servicebus.windows.net/;SharedAccessKeyName=NAME;SharedAccessKey=KEY[;EntityPath=HUB]
type ConnectionString struct {
	// Endpoint is the namespace URL with the https scheme and no trailing
	// slash, for example "https://ns.servicebus.windows.net" or
	// "https://127.0.0.1:7443".
	Endpoint string
	// KeyName is the SharedAccessKeyName (the authorization rule).
	KeyName string
	// Key is the SharedAccessKey exactly as written (it is not decoded).
	Key string
	// EntityPath is the hub name, when the connection string names one.
	EntityPath string
}

// String returns the connection string with the key replaced by "REDACTED",
// so that a ConnectionString can be printed or logged safely.
func (c ConnectionString) String() string {
	s := "Endpoint=" + c.Endpoint + "/;SharedAccessKeyName=" + c.KeyName + ";SharedAccessKey=REDACTED"
	if c.EntityPath != "" {
		s += ";EntityPath=" + c.EntityPath
	}
	return s
}

// ParseConnectionString parses a Notification Hubs (Service Bus style)
// connection string. Keys are matched in any order and any case; whitespace
// around parts and a trailing ";" are ignored; values may contain "=" (Base64
// keys). The endpoint may use sb:// or https://, carry a port and a trailing
// slash. Errors wrap ErrInvalidConnectionString, name the missing or
// malformed key and never contain the key's value.
func ParseConnectionString(s string) (ConnectionString, error) {
	var cs ConnectionString
	var endpoint string
	seen := map[string]bool{}
	for part := range strings.SplitSeq(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return ConnectionString{}, fmt.Errorf("%w: part %d has no '=' (expected Key=Value)", ErrInvalidConnectionString, len(seen)+1)
		}
		k = strings.ToLower(strings.TrimSpace(k))
		v = strings.TrimSpace(v)
		if seen[k] {
			return ConnectionString{}, fmt.Errorf("%w: key %q appears twice", ErrInvalidConnectionString, k)
		}
		seen[k] = true
		switch k {
		case "endpoint":
			endpoint = v
		case "sharedaccesskeyname":
			cs.KeyName = v
		case "sharedaccesskey":
			cs.Key = v
		case "entitypath":
			cs.EntityPath = v
		}
	}
	switch {
	case endpoint == "":
		return ConnectionString{}, fmt.Errorf("%w: Endpoint is missing", ErrInvalidConnectionString)
	case cs.KeyName == "":
		return ConnectionString{}, fmt.Errorf("%w: SharedAccessKeyName is missing", ErrInvalidConnectionString)
	case cs.Key == "":
		return ConnectionString{}, fmt.Errorf("%w: SharedAccessKey is missing", ErrInvalidConnectionString)
	}
	ep, err := normalizeEndpoint(endpoint)
	if err != nil {
		return ConnectionString{}, err
	}
	cs.Endpoint = ep
	if strings.ContainsAny(cs.EntityPath, "/?#") {
		return ConnectionString{}, fmt.Errorf("%w: EntityPath %q is not a hub name", ErrInvalidConnectionString, cs.EntityPath)
	}
	return cs, nil
}

// normalizeEndpoint maps sb:// to https://, drops the trailing slash and
// checks that the endpoint is a bare scheme://host[:port].
func normalizeEndpoint(endpoint string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", fmt.Errorf("%w: Endpoint is not a URL", ErrInvalidConnectionString)
	}
	switch strings.ToLower(u.Scheme) {
	case "sb", "https":
	default:
		return "", fmt.Errorf("%w: Endpoint scheme must be sb:// or https://, got %q", ErrInvalidConnectionString, u.Scheme)
	}
	if u.Host == "" || u.Hostname() == "" {
		return "", fmt.Errorf("%w: Endpoint has no host", ErrInvalidConnectionString)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.Trim(u.Path, "/") != "" {
		return "", fmt.Errorf("%w: Endpoint must be sb://HOST[:PORT]/ with no path, query or credentials", ErrInvalidConnectionString)
	}
	if p := u.Port(); p != "" {
		for _, r := range p {
			if r < '0' || r > '9' {
				return "", fmt.Errorf("%w: Endpoint port %q is not a number", ErrInvalidConnectionString, p)
			}
		}
	}
	return "https://" + strings.ToLower(u.Host), nil
}
