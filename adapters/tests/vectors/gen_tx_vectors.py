"""Generates tx.json: transaction envelopes built by the Python stellar-sdk (PyPI), an SDK
independent of starlog, from the same inputs as `starlog tx`. starlog's envelopes and hashes
must equal these byte for byte (adapters/tests/tx_vectors.rs).

Run: python3 -m venv /tmp/v && /tmp/v/bin/pip install stellar-sdk && /tmp/v/bin/python gen_tx_vectors.py
The keys are throw-away test keys derived from fixed bytes; they hold nothing on any network.
"""

import hashlib
import json
import sys

import stellar_sdk
from stellar_sdk import Account, Asset, Keypair, Network, Price, TransactionBuilder

NETWORKS = {
    "testnet": Network.TESTNET_NETWORK_PASSPHRASE,
    "public": Network.PUBLIC_NETWORK_PASSPHRASE,
    "Standalone Network ; February 2017": "Standalone Network ; February 2017",
}


def key(n):
    return Keypair.from_raw_ed25519_seed(hashlib.sha256(b"starlog test key %d" % n).digest())


ISSUER_A = key(100).public_key
ISSUER_B = key(101).public_key
ASSETS = {
    "native": Asset.native(),
    "USD:" + ISSUER_A: Asset("USD", ISSUER_A),
    "EURT:" + ISSUER_B: Asset("EURT", ISSUER_B),
    "X:" + ISSUER_A: Asset("X", ISSUER_A),
    "ABCDE:" + ISSUER_B: Asset("ABCDE", ISSUER_B),
    "LONGASSET123:" + ISSUER_A: Asset("LONGASSET123", ISSUER_A),
}
A = list(ASSETS)

CASES = [
    # (op, network, key, sequence, fee, min, max, selling, buying, amount, price, offer_id)
    ("manage-sell-offer", "testnet", 1, 1, 100, 0, 1700000000, A[0], A[1], "100", "0.1234", 0),
    ("manage-sell-offer", "public", 2, 123456789012, 100, 1700000000, 1700000030, A[1], A[0], "12.3456789", "3.14159265358979", 0),
    ("manage-buy-offer", "testnet", 3, 42, 200, 0, 1800000000, A[2], A[5], "0.0000001", "1/3", 0),
    ("manage-buy-offer", "Standalone Network ; February 2017", 4, 9223372036854775807, 4294967295, 0, 18446744073709551615, A[5], A[4], "922337203685.4775807", "2147483647", 7),
    ("manage-sell-offer", "testnet", 5, 7, 100, 10, 20, A[3], A[4], "0", "1", 123456789),
    ("manage-buy-offer", "public", 6, 8, 100, 0, 1700000000, A[0], A[3], "0", "1/1", 9223372036854775807),
    ("manage-sell-offer", "public", 7, 99, 1000, 0, 1700000000, A[4], A[0], "922337203685.4775807", "0.0000001", 0),
    ("manage-sell-offer", "testnet", 8, 100, 100, 0, 1700000000, A[5], A[2], "1", "1/2147483647", 0),
    ("manage-buy-offer", "testnet", 9, 101, 100, 0, 1700000000, A[1], A[2], "1000000", "0.5", 0),
    ("manage-sell-offer", "Standalone Network ; February 2017", 10, 2, 100, 0, 1, A[2], A[1], "5.5", "1000.0000001", 55),
    ("manage-buy-offer", "testnet", 11, 3, 100, 0, 1700000000, A[4], A[5], "3", "12345.6789", 0),
    ("manage-sell-offer", "public", 12, 4, 100, 0, 1700000000, A[0], A[5], "0.5", "0.333333333", 0),
]


def build(case):
    op, net, k, seq, fee, tmin, tmax, selling, buying, amount, price, offer_id = case
    kp = key(k)
    account = Account(kp.public_key, seq - 1)  # build() uses sequence + 1
    builder = TransactionBuilder(account, network_passphrase=NETWORKS[net], base_fee=fee)
    builder.add_time_bounds(tmin, tmax)
    if "/" in price:
        n, d = price.split("/")
        p = Price(int(n), int(d))
    else:
        p = price
    if op == "manage-sell-offer":
        builder.append_manage_sell_offer_op(ASSETS[selling], ASSETS[buying], amount, p, offer_id)
    else:
        builder.append_manage_buy_offer_op(ASSETS[selling], ASSETS[buying], amount, p, offer_id)
    tx = builder.build()
    tx.sign(kp)
    return {
        "op": op,
        "network": net,
        "secret": kp.secret,
        "public_key": kp.public_key,
        "sequence": str(seq),
        "fee": str(fee),
        "min_time": str(tmin),
        "max_time": str(tmax),
        "selling": selling,
        "buying": buying,
        "amount": amount,
        "price": price,
        "offer_id": str(offer_id),
        "hash": tx.hash_hex(),
        "envelope_xdr": tx.to_xdr(),
    }


# Transactions of several operations (library API only: the CLI builds one operation).
# Each op: (kind, selling, buying, amount, price, offer_id); kind "passive" has no offer id.
MULTI = [
    ("testnet", 20, 77, 100, 1700000000, [
        ("sell", A[0], A[1], "10", "0.25", 0),
        ("buy", A[1], A[0], "40", "4", 0),
        ("passive", A[2], A[5], "1.5", "7/3", 0),
        ("sell", A[0], A[1], "0", "0.25", 991),
    ]),
    ("public", 21, 1, 250, 1700000100, [("passive", A[5], A[4], "922337203685.4775807", "0.0000001", 0)]),
    ("testnet", 22, 5, 100, 1700000000, [("sell", A[3], A[0], "0.0000001", "2147483647", 0)] * 100),
]


def build_multi(case):
    net, k, seq, base_fee, tmax, ops = case
    kp = key(k)
    builder = TransactionBuilder(Account(kp.public_key, seq - 1), network_passphrase=NETWORKS[net], base_fee=base_fee)
    builder.add_time_bounds(0, tmax)
    for kind, selling, buying, amount, price, offer_id in ops:
        p = Price(*map(int, price.split("/"))) if "/" in price else price
        if kind == "sell":
            builder.append_manage_sell_offer_op(ASSETS[selling], ASSETS[buying], amount, p, offer_id)
        elif kind == "buy":
            builder.append_manage_buy_offer_op(ASSETS[selling], ASSETS[buying], amount, p, offer_id)
        else:
            builder.append_create_passive_sell_offer_op(ASSETS[selling], ASSETS[buying], amount, p)
    tx = builder.build()
    tx.sign(kp)
    return {
        "network": net,
        "secret": kp.secret,
        "sequence": str(seq),
        "fee": str(base_fee * len(ops)),
        "max_time": str(tmax),
        "ops": [
            {"kind": kind, "selling": s, "buying": b, "amount": a, "price": p, "offer_id": str(o)}
            for kind, s, b, a, p, o in ops
        ],
        "hash": tx.hash_hex(),
        "envelope_xdr": tx.to_xdr(),
    }


def main():
    out = {
        "generator": "stellar-sdk (Python) %s" % stellar_sdk.__version__,
        "vectors": [build(c) for c in CASES],
        "multi_op": [build_multi(c) for c in MULTI],
    }
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
