"""Blob store back ends behind one interface (``dangan.storage.base.BlobStore``): the local
content-addressed store and the S3 store, the latter against a real S3 protocol server (moto's
standalone server on loopback). The same conformance tests run against both. Then the location
configuration (``DANGAN_STORAGE_LOCATIONS``) and its start-up errors."""

from __future__ import annotations

import io
import json
import os
import stat

import pytest
from django.core.exceptions import ImproperlyConfigured

from dangan.core import sm
from dangan.storage import locations, s3
from dangan.storage.base import BlobMissing, BlobStore, DigestMismatch
from dangan.storage.blobstore import FileBlobStore, default_store
from dangan.storage.s3 import S3BlobStore
from tests.s3server import KEYS, moto_server, new_bucket


@pytest.fixture(scope="module")
def s3_endpoint():
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def bucket(s3_endpoint):
    return new_bucket(s3_endpoint)


@pytest.fixture(params=["file", "s3"])
def store(request, tmp_path) -> BlobStore:
    if request.param == "file":
        return FileBlobStore(tmp_path / "blobs")
    endpoint = request.getfixturevalue("s3_endpoint")
    bucket = request.getfixturevalue("bucket")
    return S3BlobStore(bucket=bucket, prefix=f"t/{tmp_path.name}", endpoint_url=endpoint, **KEYS)


def test_both_conform_to_the_protocol(store):
    assert isinstance(store, BlobStore)


def test_put_open_size_rehash_and_list(store):
    a, b = b"first blob \xe6\xa1\xa3", b"second blob" * 1000
    da, db = store.put_bytes(a), store.put_bytes(b)
    assert (da, db) == (sm.sm3_hex(a), sm.sm3_hex(b))
    assert store.exists(da) and store.size(db) == len(b)
    with store.open(da) as f:
        assert f.read() == a
    assert store.rehash(db) == db
    assert sorted(store.digests()) == sorted([da, db])
    assert store.put_bytes(a) == da  # write-once: the same address again is a no-op
    assert sorted(store.digests()) == sorted([da, db])


def test_missing_blob(store):
    digest = sm.sm3_hex(b"never stored")
    assert not store.exists(digest)
    for call in (store.open, store.size, store.rehash):
        with pytest.raises(BlobMissing):
            call(digest)
    store.delete(digest)  # deleting what is not there is no error


def test_bad_digest_is_refused(store):
    with pytest.raises(ValueError):
        store.exists("../../etc/passwd")


def test_put_stream_and_file_large_multipart(store, tmp_path, monkeypatch):
    """11 MiB in 5 MiB parts (S3's minimum part size) through the streaming multipart path."""
    monkeypatch.setattr(s3, "PART", 5 * 1024 * 1024)
    data = os.urandom(11 * 1024 * 1024)
    result = store.put_stream(io.BytesIO(data))
    assert result.sm3 == sm.sm3_hex(data) and result.size == len(data)
    assert store.rehash(result.sm3) == result.sm3 and store.size(result.sm3) == len(data)
    path = tmp_path / "f.bin"
    path.write_bytes(data[:1000])
    assert store.put_file(path) == sm.sm3_hex(data[:1000])
    assert sorted(store.digests()) == sorted([result.sm3, sm.sm3_hex(data[:1000])])  # no temp keys left


def test_replace_repairs_a_damaged_copy_atomically(store):
    good = b"the right bytes" * 100
    digest = store.put_bytes(good)
    # damage it the way each back end can be damaged
    if isinstance(store, FileBlobStore):
        path = store.path(digest)
        assert stat.S_IMODE(path.stat().st_mode) == 0o444
        os.chmod(path, 0o644)
        path.write_bytes(b"X" + good[1:])
        os.chmod(path, 0o444)
    else:
        store.client.put_object(Bucket=store.bucket, Key=store.key(digest), Body=b"X" + good[1:])
    assert store.rehash(digest) != digest
    with pytest.raises(DigestMismatch):  # wrong bytes change nothing
        store.replace(digest, io.BytesIO(b"other bytes"))
    assert store.size(digest) == len(good)
    assert store.replace(digest, io.BytesIO(good)) == len(good)
    assert store.rehash(digest) == digest
    if isinstance(store, FileBlobStore):
        assert stat.S_IMODE(store.path(digest).stat().st_mode) == 0o444
        assert not list(store.tmp.iterdir())


def test_replace_restores_a_missing_copy_and_delete(store):
    data = b"restore me"
    digest = sm.sm3_hex(data)
    store.replace(digest, io.BytesIO(data))
    assert store.rehash(digest) == digest
    store.delete(digest)
    assert not store.exists(digest)


def test_s3_multipart_with_wrong_bytes_leaves_nothing(s3_endpoint, bucket, monkeypatch):
    monkeypatch.setattr(s3, "PART", 5 * 1024 * 1024)
    store = S3BlobStore(bucket=bucket, prefix="abort", endpoint_url=s3_endpoint, **KEYS)
    data = os.urandom(6 * 1024 * 1024)
    digest = sm.sm3_hex(b"something else")
    with pytest.raises(DigestMismatch):
        store.replace(digest, io.BytesIO(data))
    assert not store.exists(digest)
    uploads = store.client.list_multipart_uploads(Bucket=bucket, Prefix="abort/")
    assert not uploads.get("Uploads")


def test_s3_records_sm3_metadata_and_hides_keys(s3_endpoint, bucket):
    store = S3BlobStore(bucket=bucket, prefix="meta/", endpoint_url=s3_endpoint, **KEYS)
    digest = store.put_bytes(b"with metadata")
    assert store.stored_sm3(digest) == digest
    assert store.key(digest) == f"meta/sm3/{digest[:2]}/{digest[2:4]}/{digest}"
    assert KEYS["secret_key"] not in repr(store) + store.describe()


def test_unreachable_s3_endpoint(bucket):
    store = S3BlobStore(
        bucket=bucket, endpoint_url="http://127.0.0.1:9", connect_timeout=0.5, read_timeout=0.5, **KEYS
    )
    from botocore.exceptions import EndpointConnectionError

    with pytest.raises(EndpointConnectionError):
        store.ping()


# ----------------------------------------------------------------------------- configuration


def test_zero_config_is_one_local_primary(settings):
    locs = locations.configured()
    assert [(loc.name, loc.role, loc.type) for loc in locs] == [("local", "primary", "file")]
    assert default_store().root == settings.BLOB_DIR
    assert not locations.has_copies()


def test_configured_by_environment(monkeypatch, tmp_path, settings, s3_endpoint):
    monkeypatch.setenv("S3_AK_TEST", KEYS["access_key"])
    monkeypatch.setenv("S3_SK_TEST", KEYS["secret_key"])
    config = [
        {"name": "nas", "role": "replica", "type": "file", "path": str(tmp_path / "nas")},
        {"name": "oss", "role": "offsite", "type": "s3", "endpoint_url": s3_endpoint, "bucket": "dangan-b",
         "prefix": "x", "access_key_env": "S3_AK_TEST", "secret_key_env": "S3_SK_TEST"},
    ]  # fmt: skip
    monkeypatch.setenv("DANGAN_STORAGE_LOCATIONS", json.dumps(config))
    locs = locations.configured()
    assert [(loc.name, loc.role) for loc in locs] == [
        ("local", "primary"),
        ("nas", "replica"),
        ("oss", "offsite"),
    ]
    assert default_store().root == settings.BLOB_DIR  # the default primary is added when none is listed
    assert [loc.name for loc in locations.copies()] == ["nas", "oss"]
    assert KEYS["secret_key"] not in repr(locs) + json.dumps([locations.describe(loc) for loc in locs])


def test_configured_by_file_with_secret_files(monkeypatch, tmp_path):
    ak, sk = tmp_path / "ak", tmp_path / "sk"
    for path, value in ((ak, KEYS["access_key"]), (sk, KEYS["secret_key"])):
        path.write_text(value + "\n")
        path.chmod(0o600)
    conf = tmp_path / "locations.json"
    conf.write_text(json.dumps([
        {"name": "main", "role": "primary", "type": "file", "path": str(tmp_path / "primary")},
        {"name": "oss", "role": "offsite", "type": "s3", "bucket": "dangan-b", "access_key_file": str(ak),
         "secret_key_file": str(sk)},
    ]))  # fmt: skip
    monkeypatch.setenv("DANGAN_STORAGE_LOCATIONS_FILE", str(conf))
    assert default_store().root == tmp_path / "primary"
    sk.chmod(0o644)
    monkeypatch.setenv("DANGAN_STORAGE_LOCATIONS_FILE", str(conf) + "?")  # a new configuration
    with pytest.raises(ImproperlyConfigured, match="cannot read"):
        locations.configured()
    conf2 = tmp_path / "locations2.json"
    conf2.write_text(conf.read_text())
    monkeypatch.setenv("DANGAN_STORAGE_LOCATIONS_FILE", str(conf2))
    with pytest.raises(ImproperlyConfigured, match="chmod 600") as err:
        locations.configured()
    assert KEYS["secret_key"] not in str(err.value)


def _entry(**kw):
    return {"name": "r", "role": "replica", "type": "file", "path": "/tmp/dangan-replica-x"} | kw


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"name": "x"}, "must be a JSON list"),
        ([_entry(role="backup")], "'role' must be one of primary, replica, offsite"),
        ([_entry(type="ftp")], "'type' must be one of file, s3"),
        ([_entry(name="bad name!")], "'name' must be"),
        ([_entry(), _entry()], "used twice"),
        ([_entry(path="relative/dir")], "absolute folder path"),
        ([_entry(colour="red")], "unknown key"),
        ([_entry(name="a", role="primary"), _entry(name="b", role="primary", path="/tmp/b")], "exactly one"),
        ([{"name": "s", "role": "primary", "type": "s3", "bucket": "abc"}], "primary must be a file location"),
        ([{"name": "s", "role": "replica", "type": "s3", "bucket": "A_B"}], "'bucket' must be"),
        ([{"name": "s", "role": "replica", "type": "s3", "bucket": "abc", "endpoint_url": "ftp://x"}],
         "'endpoint_url'"),
        ([{"name": "s", "role": "replica", "type": "s3", "bucket": "abc",
           "endpoint_url": "https://ak:sk@x"}], "without credentials"),
        ([{"name": "s", "role": "replica", "type": "s3", "bucket": "abc", "access_key_env": "NOPE_1",
           "secret_key_env": "NOPE_2"}], "NOPE_1, which is not set"),
        ([{"name": "s", "role": "replica", "type": "s3", "bucket": "abc", "access_key_env": "A"}],
         "give both"),
        ([{"name": "s", "role": "replica", "type": "s3", "bucket": "abc", "access_key_env": "A",
           "secret_key_file": "/x"}], "not both"),
        ("[1,", "not valid JSON"),
    ],
)  # fmt: skip
def test_configuration_errors_are_clear(settings, config, message):
    settings.STORAGE_LOCATIONS = config
    with pytest.raises(ImproperlyConfigured, match=message):
        locations.configured()


def test_replica_in_the_primary_folder_is_refused(settings):
    settings.STORAGE_LOCATIONS = [_entry(path=str(settings.BLOB_DIR))]
    with pytest.raises(ImproperlyConfigured, match="no primary location, and 'r' uses its folder"):
        locations.configured()


def test_both_environment_variables_refused(monkeypatch):
    monkeypatch.setenv("DANGAN_STORAGE_LOCATIONS", "[]")
    monkeypatch.setenv("DANGAN_STORAGE_LOCATIONS_FILE", "/x")
    with pytest.raises(ImproperlyConfigured, match="set only one"):
        locations.configured()
