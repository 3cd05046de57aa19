"""/admin/webhooks in the browser: add an endpoint (secret shown once), send a test event that a
receiver on loopback gets signed, a failing endpoint in the delivery log (status, attempts, last
error, next try), remove, and the page refused to non-admins. Screenshots: admin-webhooks-*."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from standardwebhooks import Webhook

from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.e2e


@pytest.fixture
def no_webhooks(console):
    """Endpoints outlive console.clear(): remove them before and after, so that other tests'
    approval requests are not posted anywhere."""

    def remove_all():
        token = console.token("admin")
        for hook in console.query("webhooks:list", {}, token=token):
            console.mutation("webhooks:remove", {"webhookId": hook["_id"]}, token=token)

    remove_all()
    yield
    remove_all()


def refresh_until(page, locator, timeout_ms: int = 20_000) -> None:
    """The log is read when the page loads or Refresh is clicked: click until it shows."""
    waited = 0
    while locator.count() == 0 and waited < timeout_ms:
        page.get_by_test_id("refresh").click()
        page.wait_for_timeout(300)
        waited += 300
    expect(locator.first).to_be_visible()


def test_admin_adds_tests_watches_and_removes_a_webhook(tabs, console, screenshots, no_webhooks):
    with Receiver() as receiver, Receiver(statuses=[500] * 1000) as failing:
        page = tabs.open("admin", "/admin/webhooks")
        expect(page.get_by_text("No webhook endpoints yet")).to_be_visible()

        form = page.get_by_test_id("add-webhook")
        form.get_by_label("Endpoint URL").fill(receiver.url)
        form.get_by_label("Description").fill("review channel")
        form.get_by_role("button", name="Add endpoint").click()
        secret = page.get_by_test_id("new-secret").inner_text()
        assert secret.startswith("whsec_")
        row = page.get_by_test_id("webhook-row")
        expect(row).to_have_count(1)
        expect(row.get_by_test_id("webhook-url")).to_contain_text(receiver.url)
        expect(row).to_contain_text("all events")

        # A test event, delivered signed with the secret the page showed.
        row.get_by_test_id("send-test").click()
        delivered = page.get_by_test_id("delivery-row").filter(has_text="delivered")
        refresh_until(page, delivered)
        (post,) = receiver.received
        assert Webhook(secret).verify(post.body, post.headers)["type"] == "webhook.test"
        expect(delivered.get_by_test_id("delivery-attempts")).to_have_text("1")

        # A failing endpoint, subscribed to new requests only (added through the API).
        admin = console.token("admin")
        console.mutation(
            "webhooks:add",
            {"url": failing.url, "format": "slack", "events": ["approval.requested"]},
            token=admin,
        )
        console.plan_thread("Rotate the signing keys")
        failed_row = page.get_by_test_id("delivery-row").filter(has_text="HTTP 500")
        refresh_until(page, failed_row)
        expect(failed_row.get_by_test_id("delivery-status")).to_have_text("pending")
        expect(failed_row.get_by_test_id("delivery-result")).to_have_text(
            "HTTP 500: receiver says no"
        )
        expect(failed_row.get_by_test_id("delivery-next")).to_contain_text("UTC")
        expect(failed_row).to_contain_text("approval.requested")
        page.get_by_test_id("new-secret-dismiss").click()
        expect(page.get_by_test_id("new-secret")).to_have_count(0)

        for scheme in ("light", "dark"):
            page.emulate_media(color_scheme=scheme)
            page.wait_for_timeout(200)
            page.screenshot(
                path=str(screenshots / f"admin-webhooks-desktop-{scheme}.png"), full_page=True
            )
        phone = tabs.open("admin", "/admin/webhooks", 390, 844)
        expect(phone.get_by_test_id("webhook-row")).to_have_count(2)
        phone.wait_for_load_state("networkidle")
        overflow = phone.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        phone.screenshot(path=str(screenshots / "admin-webhooks-phone-light.png"), full_page=True)
        assert overflow <= 1, f"/admin/webhooks overflows by {overflow}px on a phone"

        # Reloading never shows the secret again.
        page.reload()
        expect(page.get_by_test_id("webhook-row")).to_have_count(2)
        expect(page.get_by_test_id("new-secret")).to_have_count(0)
        assert secret not in page.content()

        # Remove the first endpoint (after confirming).
        page.get_by_test_id("webhook-row").filter(has_text=receiver.url).get_by_test_id(
            "remove"
        ).click()
        page.get_by_test_id("confirm-remove-confirm").click()
        expect(page.get_by_test_id("webhook-row")).to_have_count(1)
        expect(page.get_by_test_id("webhook-row")).to_contain_text(failing.url)


def test_the_webhooks_page_is_refused_to_non_admins(tabs, no_webhooks):
    page = tabs.open("reviewer", "/admin/webhooks")
    expect(page.get_by_test_id("not-allowed")).to_be_visible()
    expect(page.get_by_test_id("add-webhook")).to_have_count(0)


def test_a_bad_url_is_explained_in_a_toast(tabs, no_webhooks):
    page = tabs.open("admin", "/admin/webhooks")
    form = page.get_by_test_id("add-webhook")
    form.get_by_label("Endpoint URL").fill("ftp://files.example.com/drop")
    form.get_by_role("button", name="Add endpoint").click()
    expect(page.get_by_text("only http:// and https:// URLs are accepted")).to_be_visible()
    expect(page.get_by_test_id("webhook-row")).to_have_count(0)
