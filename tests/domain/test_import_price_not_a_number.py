"""An events file's price that YAML reads as "not a number" (.nan) is refused with the entry and
field named, like any other wrong value, never a traceback."""

import pytest
from django.core.management import CommandError, call_command

from registrations.models import Event

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("price", [".nan", "NaN", "'nan'"])
def test_a_price_that_is_not_a_number_is_refused_naming_the_entry_and_field(tmp_path, price):
    path = tmp_path / "events.yaml"
    path.write_text(f"events: [{{slug: x, name: X, starts_at: '2027-01-01T10:00:00+00:00', price: {price}}}]")

    with pytest.raises(CommandError) as exc:
        call_command("import_events", str(path))

    assert "event #1" in str(exc.value) and "price" in str(exc.value)
    assert not Event.objects.exists()
