package nhtest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIdentityAndListKeys(t *testing.T) {
	f := newFixture(t)
	get := func(method, u string, hdr map[string]string) (int, map[string]any) {
		req, _ := http.NewRequest(method, u, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := f.srv.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var out map[string]any
		json.Unmarshal(b, &out)
		return resp.StatusCode, out
	}
	tokURL := f.srv.IdentityEndpoint() + "?" + url.Values{"api-version": {"2019-08-01"}, "resource": {f.srv.URL}}.Encode()
	st, _ := get("GET", tokURL, nil)
	assert.Equal(t, 401, st, "no X-IDENTITY-HEADER")
	st, _ = get("GET", f.srv.IdentityEndpoint()+"?resource=x", map[string]string{"X-IDENTITY-HEADER": f.srv.IdentityHeader()})
	assert.Equal(t, 400, st, "no api-version")
	st, tok := get("GET", tokURL, map[string]string{"X-IDENTITY-HEADER": f.srv.IdentityHeader()})
	require.Equal(t, 200, st)
	assert.Equal(t, "Bearer", tok["token_type"])
	bearer := map[string]string{"Authorization": "Bearer " + tok["access_token"].(string)}

	list := f.srv.URL + "/subscriptions/s/resourceGroups/rg/providers/Microsoft.NotificationHubs/namespaces/ns/notificationHubs/nhpush/authorizationRules/" + FullRuleName + "/listKeys?api-version=2023-09-01"
	st, _ = get("POST", list, nil)
	assert.Equal(t, 401, st, "no token")
	st, keys := get("POST", list, bearer)
	require.Equal(t, 200, st)
	assert.Equal(t, f.full.Key, keys["primaryKey"])
	assert.True(t, strings.HasSuffix(keys["primaryConnectionString"].(string), ";EntityPath=nhpush"))

	st, _ = get("POST", strings.Replace(list, "/nhpush/", "/other/", 1), bearer)
	assert.Equal(t, 404, st)
	st, _ = get("POST", strings.Replace(list, FullRuleName, "Nope", 1), bearer)
	assert.Equal(t, 404, st)
	st, _ = get("POST", strings.Replace(list, "?api-version=2023-09-01", "", 1), bearer)
	assert.Equal(t, 400, st)

	ctl := func(method, path, body string) (int, map[string]any) {
		req, _ := http.NewRequest(method, f.srv.URL+ControlPrefix+path, strings.NewReader(body))
		resp, err := f.srv.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	st, _ = ctl("POST", "identity", `{"listKeys":false}`)
	require.Equal(t, 204, st)
	st, denied := get("POST", list, bearer)
	assert.Equal(t, 403, st)
	assert.Contains(t, denied["error"].(map[string]any)["message"], "listkeys/action")
	ctl("POST", "identity", `{"listKeys":true}`)
	st, _ = ctl("POST", "identity", `{}`)
	assert.Equal(t, 400, st)

	st, rotated := ctl("POST", "rotate?rule="+FullRuleName, "")
	require.Equal(t, 200, st)
	assert.NotEqual(t, f.full.Key, rotated["key"])
	r := f.do("POST", "/messages/?api-version=2020-06", jsonHdr("apple"), `{"aps":{}}`)
	assert.Equal(t, 401, r.status, "tokens signed with the old key are refused")
	_, keys = get("POST", list, bearer)
	assert.Equal(t, rotated["key"], keys["primaryKey"])
	st, _ = ctl("POST", "rotate?rule=nope", "")
	assert.Equal(t, 404, st)

	st, stats := ctl("GET", "identity", "")
	assert.Equal(t, 200, st)
	assert.EqualValues(t, 3, stats["tokenRequests"])
	assert.EqualValues(t, 7, stats["listKeysCalls"])
}
