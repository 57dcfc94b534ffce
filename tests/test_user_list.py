"""`GET /api/v1/user`: everyone the caller can chat with, never a password."""


def test_other_users_lists_everyone_but_the_caller_without_passwords(api):
    client, me = api.user(username="frank")
    api.user(username="grace", gender="female", fullName="Grace G")
    api.user(username="heidi")
    response = client.get("/api/v1/user/")
    assert response.status_code == 200
    people = response.get_json()
    assert sorted(p["username"] for p in people) == ["grace", "heidi"]
    grace = next(p for p in people if p["username"] == "grace")
    assert set(grace) == {"_id", "fullName", "username", "profilePhoto", "gender", "createdAt", "updatedAt"}
    assert grace["fullName"] == "Grace G" and grace["gender"] == "female"
    assert grace["createdAt"].endswith("Z") and len(grace["createdAt"]) == 24
    assert all("password" not in p for p in people)
    # Express answers with or without the trailing slash; so do we.
    assert client.get("/api/v1/user").get_json() == people


def test_other_users_requires_authentication(client):
    response = client.get("/api/v1/user/")
    assert response.status_code == 401
    assert response.get_json() == {"message": "User not authenticated.", "success": False}
