"""What the function modules, the CLI and the console share, so that none calls another's private
helpers: the audit writer (audit.py), keyset paging (paging.py), artifact versions
(artifact_versions.py) and people (people.py). One-time links and sign-in stay api/links.py and
api/signin.py; roles, statuses and event topics are api/vocabulary.py.
"""
