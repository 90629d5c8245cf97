"""Leaderboards: hidden-label test sets, team tokens, scored submissions, published and live rankings.

``store`` (SQLite: boards, labels with their public/private part, teams, submissions, scores),
``validation`` (what a submission must look like), ``scoring`` (the shared evaluation and DeLong's
test), ``teams`` (tokens), ``pages`` (Markdown/HTML/CSV/JSON rankings) and ``server`` (the HTTP
service over all of them). The command line and the server share every check and every metric.
"""
