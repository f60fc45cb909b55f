package nhclient

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseFormat(t *testing.T) {
	tests := map[string]Format{
		"apple": FormatApple, "APNS": FormatApple, "fcmv1": FormatFcmV1, "FCM": FormatFcmV1, "gcm": FormatGcm,
		"windows": FormatWindows, "wns": FormatWindows, "WindowsPhone": FormatWindowsPhone, "mpns": FormatWindowsPhone,
		"adm": FormatAdm, "baidu": FormatBaidu, "xiaomi": FormatXiaomi, "browser": FormatBrowser, " template ": FormatTemplate,
	}
	for in, want := range tests {
		got, err := ParseFormat(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "ios", "fcmv2", "apple " + "x"} {
		_, err := ParseFormat(bad)
		assert.ErrorIs(t, err, ErrInvalidFormat, bad)
	}
	var f Format
	require.NoError(t, f.UnmarshalText([]byte("Baidu")))
	assert.Equal(t, "baidu", f.String())
	b, err := FormatXiaomi.MarshalText()
	require.NoError(t, err)
	assert.Equal(t, "xiaomi", string(b))
	_, err = FormatUnknown.MarshalText()
	assert.ErrorIs(t, err, ErrInvalidFormat)
	assert.Equal(t, "Format(42)", Format(42).String())
}

func TestConstructors(t *testing.T) {
	tests := []struct {
		name        string
		n           *Notification
		format      string
		contentType string
		headers     map[string]string
		body        string
	}{
		{"apple", NewAppleNotification([]byte(`{"aps":{"alert":"hi"}}`), map[string]string{"apns-priority": "5"}),
			"apple", "application/json;charset=utf-8", map[string]string{"apns-priority": "5"}, `{"aps":{"alert":"hi"}}`},
		{"fcmv1 wrapped", NewFcmV1Notification([]byte(` {"notification":{"title":"t"}} `), nil),
			"fcmv1", "application/json;charset=utf-8", nil, `{"message":{"notification":{"title":"t"}}}`},
		{"fcmv1 already wrapped", NewFcmV1Notification([]byte(`{"message":{"token":"x"}}`), nil),
			"fcmv1", "application/json;charset=utf-8", nil, `{"message":{"token":"x"}}`},
		{"gcm", NewGcmNotification([]byte(`{"data":{"a":"b"}}`), nil), "gcm", "application/json;charset=utf-8", nil, `{"data":{"a":"b"}}`},
		{"windows toast", NewWindowsNotification([]byte(`<toast><visual><binding template="ToastText01"><text id="1">hi</text></binding></visual></toast>`), nil),
			"windows", "application/xml", map[string]string{"X-WNS-Type": "wns/toast"}, ""},
		{"windows tile", NewWindowsNotification([]byte(`<?xml version="1.0"?><tile><visual/></tile>`), nil),
			"windows", "application/xml", map[string]string{"X-WNS-Type": "wns/tile"}, ""},
		{"windows badge", NewWindowsNotification([]byte(`<badge value="3"/>`), nil),
			"windows", "application/xml", map[string]string{"X-WNS-Type": "wns/badge"}, ""},
		{"windows given type wins", NewWindowsNotification([]byte(`<toast/>`), map[string]string{"x-wns-type": "wns/tile"}),
			"windows", "application/xml", map[string]string{"x-wns-type": "wns/tile"}, ""},
		{"windows raw", NewWindowsRawNotification([]byte(`anything`), nil),
			"windows", "application/octet-stream", map[string]string{"X-WNS-Type": "wns/raw"}, "anything"},
		{"mpns toast", NewWindowsPhoneNotification([]byte(`<wp:Notification xmlns:wp="WPNotification"><wp:Toast><wp:Text1>hi</wp:Text1></wp:Toast></wp:Notification>`), nil),
			"windowsphone", "application/xml", map[string]string{"X-WindowsPhone-Target": "toast", "X-NotificationClass": "2"}, ""},
		{"mpns tile", NewWindowsPhoneNotification([]byte(`<wp:Notification xmlns:wp="WPNotification"><wp:Tile/></wp:Notification>`), nil),
			"windowsphone", "application/xml", map[string]string{"X-WindowsPhone-Target": "token", "X-NotificationClass": "1"}, ""},
		{"adm", NewAdmNotification([]byte(`{"data":{"m":"x"}}`), nil), "adm", "application/json;charset=utf-8", nil, ""},
		{"baidu", NewBaiduNotification([]byte(`{"title":"x"}`), nil), "baidu", "application/json;charset=utf-8", nil, ""},
		{"xiaomi", NewXiaomiNotification([]byte(`{"title":"x"}`), nil), "xiaomi", "application/json;charset=utf-8", nil, ""},
		{"browser", NewBrowserNotification([]byte(`{"title":"x"}`), nil), "browser", "application/json;charset=utf-8", nil, ""},
		{"template", NewTemplateNotification(map[string]string{"msg": "hi", "a": "<b>"}), "template", "application/json;charset=utf-8", nil, `{"a":"\u003cb\u003e","msg":"hi"}`},
		{"generic raw", NewNotification(FormatWindows, []byte("x"), map[string]string{"X-WNS-Type": "wns/raw"}),
			"windows", "application/octet-stream", map[string]string{"X-WNS-Type": "wns/raw"}, "x"},
		{"generic fcmv1", NewNotification(FormatFcmV1, []byte(`{"data":{}}`), nil), "fcmv1", "application/json;charset=utf-8", nil, `{"message":{"data":{}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.NoError(t, tt.n.Validate())
			assert.Equal(t, tt.format, tt.n.Format.String())
			assert.Equal(t, tt.contentType, tt.n.contentType())
			for k, v := range tt.headers {
				assert.Equal(t, v, tt.n.Headers[k], k)
			}
			if tt.body != "" {
				assert.Equal(t, tt.body, string(tt.n.Body))
			}
		})
	}
}

func TestValidateRefuses(t *testing.T) {
	big := func(n int) []byte { return []byte(`{"a":"` + strings.Repeat("x", n) + `"}`) }
	tests := []struct {
		name    string
		n       *Notification
		want    error
		wantMsg string
	}{
		{"nil", nil, ErrInvalidPayload, "nil"},
		{"unknown format", &Notification{Body: []byte("{}")}, ErrInvalidFormat, "format"},
		{"empty body", NewAppleNotification(nil, nil), ErrInvalidPayload, "empty"},
		{"apple over 4 KB", NewAppleNotification(big(4090), nil), ErrPayloadTooLarge, "limit of 4096"},
		{"windows over 5 KB", NewWindowsRawNotification(make([]byte, 5121), nil), ErrPayloadTooLarge, "limit of 5120"},
		{"template over 64 KB", &Notification{Format: FormatTemplate, Body: big(65536)}, ErrPayloadTooLarge, "limit of 65536"},
		{"not JSON", NewAppleNotification([]byte(`{"aps":`), nil), ErrInvalidPayload, "not a JSON object"},
		{"JSON array", NewGcmNotification([]byte(`[1]`), nil), ErrInvalidPayload, "not a JSON object"},
		{"bad XML", NewWindowsNotification([]byte(`<toast>`), map[string]string{"X-WNS-Type": "wns/toast"}), ErrInvalidPayload, "XML"},
		{"two XML roots", NewWindowsPhoneNotification([]byte(`<a/><b/>`), nil), ErrInvalidPayload, "XML"},
		{"no WNS type", NewWindowsNotification([]byte(`<other/>`), nil), ErrInvalidHeader, "X-WNS-Type"},
		{"bad WNS type", NewWindowsNotification([]byte(`<toast/>`), map[string]string{"X-WNS-Type": "wns/popup"}), ErrInvalidHeader, "wns/popup"},
		{"CR LF in value", NewAppleNotification([]byte(`{}`), map[string]string{"apns-topic": "a\r\nX-Evil: 1"}), ErrInvalidHeader, "control character"},
		{"LF in value", NewAppleNotification([]byte(`{}`), map[string]string{"apns-id": "a\nb"}), ErrInvalidHeader, "control character"},
		{"bad header name", NewAppleNotification([]byte(`{}`), map[string]string{"apns topic": "x"}), ErrInvalidHeader, "not a token"},
		{"reserved header", NewAppleNotification([]byte(`{}`), map[string]string{"authorization": "x"}), ErrInvalidHeader, "set by the client"},
		{"reserved tags header", NewAppleNotification([]byte(`{}`), map[string]string{"ServiceBusNotification-Tags": "x"}), ErrInvalidHeader, "set by the client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.n.Validate()
			require.Error(t, err)
			assert.True(t, errors.Is(err, tt.want), "%v is not %v", err, tt.want)
			assert.Contains(t, err.Error(), tt.wantMsg)
		})
	}
}

func TestPayloadLimits(t *testing.T) {
	assert.Equal(t, 4096, FormatApple.PayloadLimit())
	assert.Equal(t, 4096, FormatFcmV1.PayloadLimit())
	assert.Equal(t, 5120, FormatWindows.PayloadLimit())
	assert.Equal(t, 3072, FormatWindowsPhone.PayloadLimit())
	assert.Equal(t, 6144, FormatAdm.PayloadLimit())
	assert.Equal(t, 65536, FormatTemplate.PayloadLimit())
	// Exactly at the limit passes.
	body := []byte(`{"a":"` + strings.Repeat("x", 4096-8) + `"}`)
	require.Len(t, body, 4096)
	assert.NoError(t, NewAppleNotification(body, nil).Validate())
}
