"""Staff erase a customer (GDPR art. 17) for a request received by other
means: a confirmation page on the customer, the permission
`privacy.erase_customer`, the same flow as the customer's own deletion
(flows/erasure.py), audited twice: the erasure row names the staff user,
and Django's admin log has the deletion."""

from django.contrib import messages
from django.contrib.admin.models import DELETION, LogEntry
from django.contrib.admin.sites import AdminSite
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from accounts.models import Customer
from accounts.selectors import addresses_of
from core.errors import NotFound
from flows.erasure import erase_by_staff

PERMISSION = "privacy.erase_customer"


def customer_erase_view(
    site: AdminSite, request: HttpRequest, customer_id: str
) -> HttpResponse:
    staff_user = request.user
    if not isinstance(staff_user, AbstractBaseUser) or not staff_user.has_perm(
        PERMISSION
    ):
        raise PermissionDenied
    customer = Customer.objects.filter(id=customer_id, deleted_at__isnull=True).first()
    changelist = reverse(f"{site.name}:accounts_customer_changelist")
    if customer is None:
        messages.error(request, f"Customer {customer_id} does not exist (any more).")
        return HttpResponseRedirect(changelist)
    if request.method == "POST" and request.POST.get("confirmed") == "yes":
        try:
            erase_by_staff(
                customer_id=customer.id, staff_user=staff_user, now=timezone.now()
            )
        except NotFound:
            messages.error(request, f"Customer {customer_id} was erased meanwhile.")
            return HttpResponseRedirect(changelist)
        # The id, never the email: the log keeps what the erasure removed.
        LogEntry.objects.log_actions(
            user_id=staff_user.pk,
            queryset=[customer],  # its id is its str(): no email in the log
            action_flag=DELETION,
            change_message="Erased (GDPR art. 17)",
            single_object=True,
        )
        messages.success(
            request,
            f"Customer {customer.id} was erased: logins, addresses and profile "
            "are gone, Medusa's copy is emptied, a notice was mailed.",
        )
        return HttpResponseRedirect(changelist)
    context = {
        **site.each_context(request),
        "title": "Erase this customer (GDPR)",
        "opts": Customer._meta,
        "customer": customer,
        "addresses": len(addresses_of(customer_id=customer.id)),
        "change_url": reverse(
            f"{site.name}:accounts_customer_change", args=[customer.id]
        ),
    }
    return TemplateResponse(request, "admin/accounts/customer/erase.html", context)
