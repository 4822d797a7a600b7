"""A bug on our side must not show an attendee Django's bare "Server Error (500)"."""


def test_a_server_error_gets_a_calm_page_with_a_way_forward_not_a_bare_server_error(rf):
    from django.views.defaults import server_error

    response = server_error(rf.get("/n/status/x/"))

    assert response.status_code == 500
    body = response.content.decode()
    assert "<h1>" in body and '<html lang="en">' in body and 'name="viewport"' in body
    assert "Server Error (500)" not in body
    assert "try again" in body and "reply to" in body
