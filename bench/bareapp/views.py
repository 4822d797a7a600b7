import json

import stripe
from django.conf import settings
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from .models import BareEvent


@csrf_exempt
def stripe_webhook(request):
    payload = request.body.decode()
    try:
        stripe.WebhookSignature.verify_header(
            payload, request.META.get("HTTP_STRIPE_SIGNATURE"), settings.STRIPE_WEBHOOK_SECRET, 300
        )
    except stripe.SignatureVerificationError:
        return JsonResponse({"error": "bad signature"}, status=400)
    BareEvent.objects.create(event_id=json.loads(payload)["id"], body=payload)
    return JsonResponse({"received": True})
