"""Reports: result tables (Markdown, LaTeX, HTML), figures and the static site (leaderboards: ``leaderboards``)."""
