"""links.admin_exists: what /setup asks before it shows anything."""

from __future__ import annotations

from api.services import links


async def test_admin_exists_only_after_setup_completes(database_url):
    assert not links.admin_exists()
    token = (await links.create_setup_link()).path.split("token=", 1)[1]
    assert not links.admin_exists()
    await links.complete_setup(token, "root@example.com", "Root", "a good password")
    assert links.admin_exists()


async def test_admin_exists_with_seeded_people(people):
    assert links.admin_exists()
