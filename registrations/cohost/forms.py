from django import forms

from ..models import Event


class LoginForm(forms.Form):
    email = forms.EmailField(
        max_length=254,
        label="Your email address",
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True, "inputmode": "email"}),
    )


class TokenForm(forms.Form):
    t = forms.CharField(max_length=500, widget=forms.HiddenInput)


class AttendeeFilterForm(forms.Form):
    """The attendee table's GET parameters; anything odd falls back to the defaults."""

    SHOW_CHOICES = [("all", "Everyone"), ("incomplete", "Still incomplete")]

    q = forms.CharField(max_length=100, required=False, label="Search name, email or phone")
    show = forms.ChoiceField(choices=SHOW_CHOICES, required=False)

    def values(self) -> tuple[str, str]:
        if not self.is_valid():
            return "", "all"
        return self.cleaned_data["q"].strip(), self.cleaned_data["show"] or "all"


class InviteForm(forms.Form):
    email = forms.EmailField(max_length=254)
    name = forms.CharField(max_length=200, required=False)
    events = forms.ModelMultipleChoiceField(
        queryset=Event.objects.order_by("-starts_at"),
        widget=forms.CheckboxSelectMultiple,
        help_text="The events this person co-hosts. They see only these.",
    )
    can_see_money = forms.BooleanField(
        required=False,
        label="May see money",
        help_text="Show amounts paid, refunds and donation sizes for these events. Off by default.",
    )


class ConfirmForm(forms.Form):
    confirm = forms.BooleanField(required=True, widget=forms.HiddenInput, initial=True)
