"""Pages the service serves itself (HTML, scripts, styles and vendored libraries; no CDN)."""
