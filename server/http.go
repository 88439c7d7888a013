package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/switchboardhq/switchboard/protocol"
)

// newEcho builds the HTTP application: middleware, error handling, routes.
func (s *Server) newEcho() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	// Access logs show the peer's address: forwarding headers are set by
	// whoever sends the request, so they are not trusted (operations.md).
	e.IPExtractor = echo.ExtractIPDirect()
	e.HTTPErrorHandler = s.httpError
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{
		LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			s.log.Error("panic serving HTTP", "method", c.Request().Method, "path", c.Request().URL.Path,
				"err", err, "stack", string(stack))
			return err
		},
	}))
	e.Use(middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
		LogMethod:   true,
		LogURIPath:  true, // never the query: it may carry a token
		LogStatus:   true,
		LogLatency:  true,
		LogRemoteIP: true,
		LogError:    true,
		HandleError: true,
		LogValuesFunc: func(c echo.Context, v middleware.RequestLoggerValues) error {
			level := slog.LevelInfo
			switch {
			case v.Status >= 500:
				level = slog.LevelWarn
			case v.URIPath == "/healthz" || v.URIPath == "/readyz":
				level = slog.LevelDebug
			}
			attrs := []slog.Attr{
				slog.String("method", v.Method), slog.String("path", v.URIPath), slog.Int("status", v.Status),
				slog.Duration("latency", v.Latency), slog.String("remote", v.RemoteIP),
			}
			if v.Error != nil && v.Status >= 500 {
				attrs = append(attrs, slog.String("err", v.Error.Error()))
			}
			s.log.LogAttrs(context.Background(), level, "http", attrs...)
			return nil
		},
	}))
	s.routes(e)
	return e
}

// apiError is an HTTP error with a protocol error code.
type apiError struct {
	Status  int
	Code    protocol.Code
	Message string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

func apiErr(status int, code protocol.Code, msg string) *apiError {
	return &apiError{Status: status, Code: code, Message: msg}
}

// httpStatus maps protocol error codes to HTTP statuses.
var httpStatus = map[protocol.Code]int{
	protocol.CodeConflict:     http.StatusConflict,
	protocol.CodeBadRequest:   http.StatusBadRequest,
	protocol.CodeNotReady:     http.StatusServiceUnavailable,
	protocol.CodeUnauthorized: http.StatusUnauthorized,
	protocol.CodeForbidden:    http.StatusForbidden,
	protocol.CodeNotFound:     http.StatusNotFound,
	protocol.CodeTooLarge:     http.StatusRequestEntityTooLarge,
	protocol.CodeRateLimited:  http.StatusTooManyRequests,
	protocol.CodeTimeout:      http.StatusGatewayTimeout,
	protocol.CodeNoResponders: http.StatusServiceUnavailable,
	protocol.CodeUnsupported:  http.StatusBadRequest,
	protocol.CodeInternal:     http.StatusInternalServerError,
}

// codeFor maps HTTP statuses (from Echo's own errors) to error codes.
func codeFor(status int) protocol.Code {
	switch status {
	case http.StatusBadRequest, http.StatusUnsupportedMediaType:
		return protocol.CodeBadRequest
	case http.StatusUnauthorized:
		return protocol.CodeUnauthorized
	case http.StatusForbidden:
		return protocol.CodeForbidden
	case http.StatusNotFound:
		return protocol.CodeNotFound
	case http.StatusMethodNotAllowed:
		return protocol.CodeUnsupported
	case http.StatusRequestEntityTooLarge:
		return protocol.CodeTooLarge
	case http.StatusTooManyRequests:
		return protocol.CodeRateLimited
	}
	return protocol.CodeInternal
}

// httpError is the one place where errors become HTTP responses: a JSON
// {"code","message"} with the matching status. Internal details are logged,
// never sent.
func (s *Server) httpError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	var (
		ae  *apiError
		pe  *protocol.Error
		he  *echo.HTTPError
		ae2 = apiError{Status: http.StatusInternalServerError, Code: protocol.CodeInternal, Message: "internal error"}
	)
	switch {
	case errors.As(err, &ae):
		ae2 = *ae
	case errors.As(err, &pe):
		ae2 = apiError{Status: httpStatus[pe.Code], Code: pe.Code, Message: pe.Message}
		if ae2.Status == 0 {
			ae2.Status = http.StatusBadRequest
		}
	case errors.As(err, &he):
		ae2.Status, ae2.Code = he.Code, codeFor(he.Code)
		ae2.Message = strings.ToLower(http.StatusText(he.Code))
		if m, ok := he.Message.(string); ok && m != "" && ae2.Status < 500 {
			ae2.Message = strings.ToLower(m)
		}
	default:
		s.log.Error("HTTP handler failed", "method", c.Request().Method, "path", c.Request().URL.Path, "err", err)
	}
	if c.Request().Method == http.MethodHead {
		c.NoContent(ae2.Status)
		return
	}
	c.JSON(ae2.Status, map[string]string{"code": string(ae2.Code), "message": ae2.Message})
}

// requireAdmin lets through requests carrying the admin token as a Bearer
// token. The comparison is of SHA-256 digests in constant time, so neither
// the token nor its length leaks through timing.
func (s *Server) requireAdmin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		auth := c.Request().Header.Get(echo.HeaderAuthorization)
		scheme, token, ok := strings.Cut(auth, " ")
		sum := sha256.Sum256([]byte(strings.TrimSpace(token)))
		if !ok || !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare(sum[:], s.adminHash[:]) != 1 {
			c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="switchboard"`)
			return apiErr(http.StatusUnauthorized, protocol.CodeUnauthorized, "admin token required: Authorization: Bearer <token>")
		}
		return next(c)
	}
}

func (s *Server) handleHealthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) handleReadyz(c echo.Context) error {
	if s.draining.Load() {
		return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "shutting down"})
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
}

func (s *Server) handleClients(c echo.Context) error {
	if s.engine != nil {
		cs, err := s.clusterClients(c.Request().Context(), c.QueryParam("session_id"))
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, map[string]any{"clients": cs})
	}
	return c.JSON(http.StatusOK, map[string]any{"clients": s.hub.Clients(c.QueryParam("session_id"))})
}

func (s *Server) handleSessions(c echo.Context) error {
	if s.engine != nil {
		ss, err := s.clusterSessions(c.Request().Context())
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, map[string]any{"sessions": ss})
	}
	return c.JSON(http.StatusOK, map[string]any{"sessions": s.hub.Sessions()})
}

// messageBody is the body of the publish, send and broadcast endpoints.
type messageBody struct {
	Topic         string          `json:"topic"`
	Payload       json.RawMessage `json:"payload"`
	PublisherName string          `json:"publisher_name"`
}

func decodeBody(c echo.Context) (*messageBody, error) {
	data, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return nil, err // BodyLimit's 413, or a broken connection
	}
	var b messageBody
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, apiErr(http.StatusBadRequest, protocol.CodeBadRequest, "body must be a JSON object with topic and payload")
	}
	if b.Topic == "" {
		return nil, apiErr(http.StatusBadRequest, protocol.CodeBadRequest, "topic required")
	}
	if len(b.Payload) == 0 {
		return nil, apiErr(http.StatusBadRequest, protocol.CodeBadRequest, "payload required")
	}
	return &b, nil
}

// opErr turns an error of the operator API into an HTTP error.
func opErr(err error) error {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, ErrNotFound):
		return apiErr(http.StatusNotFound, protocol.CodeNotFound, "no such client")
	case errors.Is(err, ErrClosed):
		return apiErr(http.StatusServiceUnavailable, protocol.CodeInternal, "server shutting down")
	}
	// Validation errors of names, topics and payloads.
	return apiErr(http.StatusBadRequest, protocol.CodeBadRequest, err.Error())
}

func (s *Server) handlePublish(c echo.Context) error {
	b, err := decodeBody(c)
	if err != nil {
		return err
	}
	seq, n, err := s.hub.PublishToSession(c.Param("session_id"), b.Topic, b.Payload, b.PublisherName)
	if err != nil {
		return opErr(err)
	}
	return c.JSON(http.StatusOK, map[string]any{"seq": seq, "delivered": n})
}

func (s *Server) handleSend(c echo.Context) error {
	b, err := decodeBody(c)
	if err != nil {
		return err
	}
	err = s.hub.SendToClient(c.Param("client_id"), b.Topic, b.Payload)
	if s.engine != nil && isNotFound(err) { // connected to another node?
		err = s.clusterReach(c.Request().Context(), "send",
			adminArgs{ClientID: c.Param("client_id"), Topic: b.Topic, Payload: b.Payload})
	}
	if err != nil {
		return opErr(err)
	}
	return c.JSON(http.StatusOK, map[string]any{"delivered": 1})
}

func (s *Server) handleBroadcast(c echo.Context) error {
	b, err := decodeBody(c)
	if err != nil {
		return err
	}
	var n int
	if s.engine != nil {
		n, err = s.clusterBroadcast(c.Request().Context(), b.Topic, b.Payload)
	} else {
		n, err = s.hub.Broadcast(b.Topic, b.Payload)
	}
	if err != nil {
		return opErr(err)
	}
	return c.JSON(http.StatusOK, map[string]any{"delivered": n})
}

func (s *Server) handleDisconnect(c echo.Context) error {
	id := c.Param("client_id")
	err := s.hub.Disconnect(id, protocol.CloseKicked)
	if s.engine != nil && isNotFound(err) { // connected to another node?
		err = s.clusterReach(c.Request().Context(), "disconnect", adminArgs{ClientID: id})
	}
	if err != nil {
		return opErr(err)
	}
	return c.JSON(http.StatusOK, map[string]any{"client_id": id, "disconnected": true})
}
