"""A NUL character in a link (``%00``, from a mangled copy-paste or a probe) gets a clear 400 on
every page, never a 500 from PostgreSQL, and without touching anything else about the request."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url",
    [
        "/r/paid/?session_id=cs_%00x",
        "/r/booked/?id=12%0034",
        "/n/status/abc%00def/",
        "/n/unsubscribe/abc%00def/",
        "/cohost/events/x%00y/",
        "/ops/queue/?q=%00",
        "/ops/queue/?event=1&event=%00",
    ],
)
def test_a_nul_character_in_a_link_is_a_400_not_a_server_error(client, admin_user, url):
    client.force_login(admin_user)
    response = client.get(url)
    assert response.status_code == 400
    assert "NUL character" in response.content.decode()


def test_ordinary_links_are_untouched(client, admin_user):
    client.force_login(admin_user)
    assert client.get(reverse("ops:queue"), {"q": "Dune"}).status_code == 200
    assert client.get("/healthz").status_code == 200
