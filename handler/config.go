package handler

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/nhpush/nhpush/nhclient"
	"github.com/nhpush/nhpush/nhclient/armkeys"
)

// Config is the environment contract of DESIGN.md, read and checked once at
// start.
type Config struct {
	ConnectionString string // NH_CONNECTION_STRING
	Hub              string // NH_HUB_NAME, or the connection string's EntityPath
	ResourceID       string // NH_RESOURCE_ID (managed identity)
	AuthRule         string // NH_AUTH_RULE
	ARMEndpoint      string // NH_ARM_ENDPOINT
	Debug            bool   // NH_DEBUG=1
	LogLevel         slog.Level
	// MaxRetries is NH_MAX_RETRIES: retries of a transient NH failure
	// within one call (0: nhclient's default, 3).
	MaxRetries int
	// Credential makes the Azure credential for NH_RESOURCE_ID (managed
	// identity); nil means this program does not support it. The Azure
	// Functions handler sets azidentity's DefaultAzureCredential, so that
	// the Lambda bootstrap does not carry azidentity.
	Credential func() (azcore.TokenCredential, error)
}

// Defaults of the optional settings.
const (
	DefaultAuthRule    = "DefaultFullSharedAccessSignature"
	DefaultARMEndpoint = "https://management.azure.com"
)

// ConfigFromEnv reads the settings through getenv (os.Getenv). A missing or
// malformed setting is an error that names it and never holds a secret.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		ConnectionString: strings.TrimSpace(getenv("NH_CONNECTION_STRING")),
		Hub:              strings.TrimSpace(getenv("NH_HUB_NAME")),
		ResourceID:       strings.TrimSpace(getenv("NH_RESOURCE_ID")),
		AuthRule:         strings.TrimSpace(getenv("NH_AUTH_RULE")),
		ARMEndpoint:      strings.TrimSpace(getenv("NH_ARM_ENDPOINT")),
	}
	if c.AuthRule == "" {
		c.AuthRule = DefaultAuthRule
	}
	if c.ARMEndpoint == "" {
		c.ARMEndpoint = DefaultARMEndpoint
	}
	switch d := strings.TrimSpace(getenv("NH_DEBUG")); d {
	case "", "0", "false":
	case "1", "true":
		c.Debug = true
	default:
		return Config{}, fmt.Errorf("NH_DEBUG must be 1 or 0, got %q", d)
	}
	switch lv := strings.ToLower(strings.TrimSpace(getenv("LOG_LEVEL"))); lv {
	case "", "info":
		c.LogLevel = slog.LevelInfo
	case "debug":
		c.LogLevel = slog.LevelDebug
	case "warn", "warning":
		c.LogLevel = slog.LevelWarn
	case "error":
		c.LogLevel = slog.LevelError
	default:
		return Config{}, fmt.Errorf("LOG_LEVEL must be debug, info, warn or error, got %q", lv)
	}
	if v := strings.TrimSpace(getenv("NH_MAX_RETRIES")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 10 {
			return Config{}, fmt.Errorf("NH_MAX_RETRIES must be a number from 0 to 10, got %q", v)
		}
		c.MaxRetries = n
		if n == 0 {
			c.MaxRetries = -1 // none
		}
	}
	if c.Debug && c.LogLevel > slog.LevelDebug {
		c.LogLevel = slog.LevelDebug // NH_DEBUG dumps are debug records
	}
	switch {
	case c.ConnectionString != "":
		cs, err := nhclient.ParseConnectionString(c.ConnectionString)
		if err != nil {
			return Config{}, fmt.Errorf("NH_CONNECTION_STRING: %s", strings.TrimPrefix(err.Error(), "nhclient: "))
		}
		if c.Hub == "" {
			c.Hub = cs.EntityPath
		}
		if c.Hub == "" {
			return Config{}, errors.New("NH_HUB_NAME is not set and NH_CONNECTION_STRING has no EntityPath")
		}
	case c.ResourceID != "":
		src, err := armkeys.New(nil, c.ResourceID, c.AuthRule, &armkeys.Options{Endpoint: c.ARMEndpoint})
		if err != nil {
			return Config{}, fmt.Errorf("NH_RESOURCE_ID / NH_ARM_ENDPOINT: %s", strings.TrimPrefix(err.Error(), "armkeys: "))
		}
		switch {
		case c.Hub == "":
			c.Hub = src.Hub()
		case c.Hub != src.Hub():
			return Config{}, fmt.Errorf("NH_HUB_NAME %q differs from the hub %q in NH_RESOURCE_ID", c.Hub, src.Hub())
		}
	default:
		return Config{}, errors.New("NH_CONNECTION_STRING is not set (the hub's connection string from the portal's Access Policies), nor NH_RESOURCE_ID (the hub's ARM id, for a managed identity)")
	}
	return c, nil
}

// NewLogger returns the JSON logger the settings ask for.
func (c Config) NewLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: c.LogLevel}))
}

// NewClient returns the process's nhclient.Client: from the connection
// string, or, with NH_RESOURCE_ID, from the keys the app's Azure identity
// lists through ARM (fetched here, once). opts may be nil; Debug and Logger
// are filled in from the settings.
func (c Config) NewClient(ctx context.Context, logger *slog.Logger, opts *nhclient.ClientOptions) (*nhclient.Client, error) {
	var o nhclient.ClientOptions
	if opts != nil {
		o = *opts
	}
	o.Debug = o.Debug || c.Debug
	if o.Retry.MaxRetries == 0 {
		o.Retry.MaxRetries = c.MaxRetries
	}
	if o.Logger == nil {
		o.Logger = logger
	}
	if c.ConnectionString == "" && c.ResourceID != "" {
		if c.Credential == nil {
			return nil, errors.New("NH_RESOURCE_ID (managed identity) is not supported here; set NH_CONNECTION_STRING")
		}
		cred, err := c.Credential()
		if err != nil {
			return nil, fmt.Errorf("NH_RESOURCE_ID: no Azure identity: %s", strings.Join(strings.Fields(err.Error()), " "))
		}
		src, err := armkeys.New(cred, c.ResourceID, c.AuthRule, &armkeys.Options{Endpoint: c.ARMEndpoint})
		if err != nil {
			return nil, fmt.Errorf("NH_RESOURCE_ID: %s", strings.TrimPrefix(err.Error(), "armkeys: "))
		}
		client, err := nhclient.NewClientFromKeySource(ctx, c.Hub, src, &o)
		if err != nil {
			return nil, fmt.Errorf("NH_RESOURCE_ID (managed identity): %s", strings.TrimPrefix(err.Error(), "armkeys: "))
		}
		return client, nil
	}
	client, err := nhclient.NewClientFromConnectionString(c.ConnectionString, c.Hub, &o)
	if err != nil {
		return nil, fmt.Errorf("NH_CONNECTION_STRING / NH_HUB_NAME: %s", strings.TrimPrefix(err.Error(), "nhclient: "))
	}
	return client, nil
}
