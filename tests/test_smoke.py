async def test_backend_snippet_stores_an_artifact(http, key_headers, thread_id):
    """The seed's backend call (text/plain JSON body) plus an Authorization header."""
    import json

    body = json.dumps(
        {
            "path": "artifacts:create",
            "args": {"threadId": thread_id, "type": "plan", "content": "# Plan"},
        }
    )
    response = await http.post(
        "/api/mutation", content=body, headers={**key_headers, "Content-Type": "text/plain"}
    )
    assert response.status_code == 200
    artifact_id = response.json()["value"]
    got = await http.post(
        "/api/query",
        json={"path": "artifacts:get", "args": {"artifactId": artifact_id}},
        headers=key_headers,
    )
    assert got.json()["value"]["content"] == "# Plan"
    assert got.json()["value"]["version"] == 1
