"""Reports: result tables (Markdown, LaTeX, HTML), figures, the static site and leaderboards."""
