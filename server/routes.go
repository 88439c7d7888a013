package server

import (
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// routes lists every route of the server.
func (s *Server) routes(e *echo.Echo) {
	e.GET("/ws", s.handleWS)
	e.GET("/healthz", s.handleHealthz, s.adminIf(s.cfg.PrivateHealth)...)
	e.GET("/readyz", s.handleReadyz, s.adminIf(s.cfg.PrivateHealth)...)
	e.GET("/metrics", s.handleMetrics, s.adminIf(!s.cfg.PublicMetrics)...)

	api := e.Group("/api/v1", s.requireAdmin, middleware.BodyLimit(apiBodyLimit))
	api.GET("/clients", s.handleClients)
	api.GET("/sessions", s.handleSessions)
	api.POST("/sessions/:session_id/publish", s.handlePublish)
	api.GET("/sessions/:session_id/history", s.handleHistory)
	api.GET("/sessions/:session_id/topics/:topic/presence", s.handlePresence)
	api.POST("/clients/:client_id/send", s.handleSend)
	api.POST("/broadcast", s.handleBroadcast)
	api.DELETE("/clients/:client_id", s.handleDisconnect)
	api.GET("/events", s.handleEvents)
	api.GET("/cluster", s.handleCluster)

	e.GET("/*", s.handleAssets())
	e.HEAD("/*", s.handleAssets())
}
