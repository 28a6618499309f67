"""JSON bodies are read from rows by column label: the select list's order cannot change them,
and a column mapped to the wrong field is caught by comparing with what the vendor sent."""

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy import Select, select

from app.fastpath.mapping import BodyMapper, EncodedRows, column
from app.fastpath.reads import ReadQuery
from app.models import Product
from app.schemas.product import StoreProduct
from app.services.bodies import PRODUCT_FIELDS, STORE_PRODUCT
from tests.conftest import create_product, vendor


async def bodies(app: FastAPI, mapper: BodyMapper, statement: Select[Any]) -> list[dict[str, Any]]:
    bound = mapper.bind(statement)
    async with app.state.reader.connect() as db:
        rows = await db.fetch(ReadQuery(statement), {})
    return [bound.body(row) for row in rows]


async def sent_product(client: httpx.AsyncClient) -> dict[str, Any]:
    """A product whose text fields all differ, as the storefront shows it."""
    headers = await vendor(client)
    product = await create_product(
        client, headers, name="Ankara tote", description="Hand-woven, lined", price="12500.50"
    )
    response = await client.get(f"/api/store/ada/products/{product['id']}")
    assert response.status_code == 200
    shown: dict[str, Any] = response.json()
    assert shown["name"] == "Ankara tote" and shown["description"] == "Hand-woven, lined"
    return shown


async def test_the_select_order_does_not_matter(app: FastAPI, client: httpx.AsyncClient) -> None:
    shown = await sent_product(client)
    forward = select(*STORE_PRODUCT.select())
    backward = select(*reversed(STORE_PRODUCT.select()))
    assert await bodies(app, STORE_PRODUCT, forward) == [shown]
    assert await bodies(app, STORE_PRODUCT, backward) == [shown]


async def test_two_swapped_columns_of_one_type_are_caught(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """name and description are both text: a mapper that swaps them still builds a valid body,
    and only the comparison with what was sent tells (the storefront tests make it)."""
    shown = await sent_product(client)
    swapped_fields = {
        **{name: PRODUCT_FIELDS[name] for name in StoreProduct.model_fields},
        "name": column(Product.description),
        "description": column(Product.name),
    }
    swapped = BodyMapper(StoreProduct, **swapped_fields)
    (body,) = await bodies(app, swapped, select(*swapped.select()))
    StoreProduct.model_validate(body)
    assert body != shown
    assert (body["name"], body["description"]) == (shown["description"], shown["name"])


def test_a_mapper_must_cover_its_schema_exactly() -> None:
    class Pair(BaseModel):
        id: str
        name: str

    BodyMapper(Pair, id=column(Product.id), name=column(Product.name))
    with pytest.raises(TypeError, match="same names, same order"):
        BodyMapper(Pair, id=column(Product.id))
    with pytest.raises(TypeError, match="same names, same order"):
        BodyMapper(Pair, name=column(Product.name), id=column(Product.id))
    with pytest.raises(TypeError, match="same names, same order"):
        BodyMapper(
            Pair, id=column(Product.id), name=column(Product.name), price=column(Product.price)
        )


def test_a_statement_missing_a_mapped_column_is_refused() -> None:
    with pytest.raises(LookupError, match="name"):
        STORE_PRODUCT.bind(select(Product.id.label("id")))


class Pair(BaseModel):
    name: str
    price: int


def test_encoded_rows_answer_each_row_by_its_values_within_a_budget() -> None:
    mapper = BodyMapper(Pair, name=column(Product.name), price=column(Product.price))
    statement = select(Product.name, Product.price)
    rows = EncodedRows(mapper.bind(statement), identity=0, budget_bytes=60)
    assert rows.encode([("a", 1), ("b", 2)]) == b'[{"name":"a","price":1},{"name":"b","price":2}]'
    # A row whose values changed is encoded again, in place of its old body: one kept per row.
    assert rows.encode([("a", 3), ("b", 2)]) == b'[{"name":"a","price":3},{"name":"b","price":2}]'
    assert len(rows) == 2
    assert rows.encode([("a", 1)]) == b'[{"name":"a","price":1}]'
    assert rows.encode([]) == b"[]"
    # Past the budget everything kept is dropped, and the answers stay the same.
    for n in range(20):
        assert rows.encode([(f"c{n}", n)]) == b'[{"name":"c%d","price":%d}]' % (n, n)
        assert len(rows) <= 3
    assert rows.encode([("a", 1)]) == b'[{"name":"a","price":1}]'
