"""An order's customer (name, phone, note, delivery area) never reaches Sentry: checked as
Bugsink stores an error event whose request carries them, and in the transactions of placing,
listing and changing orders, as the SDK sends them."""

from urllib.parse import urlencode

from tests.conftest import create_product
from tests.observability.conftest import Observe

CUSTOMER = {
    "customer_name": "Chiamaka Privatename",
    "customer_phone": "0803 555 7788",
    "note": "Leave it with Mrs Okafor at gate seven",
    "delivery_area": "Banana Island Crescent",
}
SECRETS = {*CUSTOMER.values(), "2348035557788"}


async def test_customer_details_stay_out_of_sentry(observe: Observe) -> None:
    obs = await observe()
    ada = await obs.vendor("ada.orders@example.com")
    obs.secrets |= SECRETS
    product = await create_product(obs.client, ada.headers)
    slug = ada.user["store_slug"]

    recorder = obs.record()
    items = [{"product_id": product["id"], "quantity": 2}]
    placed = await obs.client.post(f"/api/store/{slug}/orders", json={"items": items, **CUSTOMER})
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["id"]
    listed = await obs.client.get("/api/orders", headers=ada.headers)
    assert listed.json()[0]["customer_name"] == CUSTOMER["customer_name"]
    change = {"status": "confirmed"}
    path = f"/api/orders/{order_id}"
    assert (await obs.client.patch(path, json=change, headers=ada.headers)).status_code == 200
    names = {event["transaction"] for event in recorder.transactions()}
    assert {"/api/store/{identifier}/orders", "/api/orders", "/api/orders/{order_id}"} <= names

    # An error on a request carrying them, as a page's form or a client's query might.
    obs = await observe()
    obs.secrets |= SECRETS
    response = await obs.client.get(f"/api/sentry/test-error?{urlencode(CUSTOMER)}")
    assert response.status_code == 500
    [event] = obs.errors()
    query = event["request"]["query_string"]
    for key in CUSTOMER:
        assert f"{key}=[Filtered]" in query
    # The observe fixture then searches everything Bugsink stored and every envelope recorded.
