"""A link from a reminder can arrive cut short (a text-only mail app wrapping a long address, a
copy that missed the end). Anything that is not one of our addresses gets a page an attendee
understands, with a way forward, not Django's bare "Not Found"."""

import pytest


@pytest.mark.parametrize("path", ["/n/statu", "/n/", "/r/", "/n/status", "/nothing-here/"])
def test_an_address_cut_short_gets_a_friendly_not_found_page(client, path):
    response = client.get(path, follow=True)

    assert response.status_code == 404
    body = response.content.decode()
    assert "<h1>" in body and "The requested resource was not found" not in body
    assert "most recent email" in body  # where to find a working link
    assert '<html lang="en">' in body and 'name="viewport"' in body
