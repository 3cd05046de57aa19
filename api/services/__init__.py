"""What the function modules, the CLI and the console share, so that none calls another's private
helpers: the audit writer (audit.py), keyset paging (paging.py), artifact versions
(artifact_versions.py), people (people.py), one-time setup and password links (links.py) and
password sign-in with its throttle and sessions (signin.py). The HTTP routes over them are
api/http.py's; roles, statuses and event topics are api/vocabulary.py.
"""
