"""Trades on `starlog sim serve` with the official Python stellar-sdk, unchanged.

Run by tests/sim_sdk.rs with HORIZON_URL and NETWORK_PASSPHRASE set. Funds accounts through
friendbot, sets trustlines, issues an asset, places crossing offers from two accounts, streams
the order book and trades, and checks balances and offer ids. Exits non-zero on any mismatch.
"""

import os
import sys
import threading
import time
from decimal import Decimal

import requests
from stellar_sdk import Asset, Keypair, Network, Server, TransactionBuilder
from stellar_sdk.exceptions import BadRequestError, NotFoundError
from stellar_sdk.xdr import TransactionResult

URL = os.environ["HORIZON_URL"]
PASSPHRASE = os.environ["NETWORK_PASSPHRASE"]
server = Server(horizon_url=URL)


def check(condition, what):
    if not condition:
        print(f"FAIL: {what}", file=sys.stderr)
        sys.exit(1)
    print(f"ok: {what}")


def friendbot(keypair):
    response = requests.get(f"{URL}/friendbot", params={"addr": keypair.public_key}, timeout=10)
    check(response.status_code == 200, f"friendbot funds {keypair.public_key[:8]} ({response.status_code})")
    return response.json()


def submit(source, build):
    account = server.load_account(source.public_key)
    builder = TransactionBuilder(account, network_passphrase=PASSPHRASE, base_fee=100).set_timeout(60)
    build(builder)
    tx = builder.build()
    tx.sign(source)
    return server.submit_transaction(tx)


def balance(account_id, asset):
    for line in server.accounts().account_id(account_id).call()["balances"]:
        if asset.is_native() and line["asset_type"] == "native":
            return Decimal(line["balance"])
        if not asset.is_native() and line.get("asset_code") == asset.code and line.get("asset_issuer") == asset.issuer:
            return Decimal(line["balance"])
    raise AssertionError(f"no {asset} balance on {account_id}")


def offer_result(response):
    """The created or updated offer of the first operation, from the result XDR."""
    result = TransactionResult.from_xdr(response["result_xdr"])
    op = result.result.results[0].tr
    inner = op.manage_sell_offer_result or op.manage_buy_offer_result
    return inner.success


def collect(stream, into, stop):
    for record in stream:
        into.append(record)
        if stop.is_set():
            return


issuer, alice, bob = Keypair.random(), Keypair.random(), Keypair.random()
for keypair in (issuer, alice, bob):
    friendbot(keypair)

root = server.root().call()
check(root["network_passphrase"] == PASSPHRASE, "root reports the network passphrase")
fee_stats = server.fee_stats().call()
check(int(fee_stats["last_ledger_base_fee"]) == 100, "fee_stats has the base fee")

usd = Asset("USD", issuer.public_key)
xlm = Asset.native()
for holder in (alice, bob):
    submit(holder, lambda b: b.append_change_trust_op(asset=usd, limit="100000"))
submit(issuer, lambda b: b.append_payment_op(destination=alice.public_key, asset=usd, amount="1000"))
check(balance(alice.public_key, usd) == Decimal("1000"), "alice holds 1000 USD issued by the issuer")

# Streams: the order book of USD/XLM and all trades from now on, each on its own thread.
stop = threading.Event()
books, trades, effects = [], [], []
threading.Thread(
    target=collect, args=(server.orderbook(usd, xlm).stream(), books, stop), daemon=True
).start()
# All trades of the venue (its background market trades too), from now on.
threading.Thread(target=collect, args=(server.trades().cursor("now").stream(), trades, stop), daemon=True).start()
threading.Thread(
    target=collect, args=(server.effects().for_account(alice.public_key).cursor("now").stream(), effects, stop),
    daemon=True,
).start()
time.sleep(0.5)

# Alice asks 100 USD at 2 XLM each.
response = submit(
    alice, lambda b: b.append_manage_sell_offer_op(selling=usd, buying=xlm, amount="100", price="2")
)
created = offer_result(response)
alice_offer_id = created.offer.offer.offer_id.int64
check(alice_offer_id > 0 and not created.offers_claimed, f"alice's offer {alice_offer_id} rests on the book")
offers = server.offers().for_seller(alice.public_key).call()["_embedded"]["records"]
check([int(o["id"]) for o in offers] == [alice_offer_id], "GET /offers?seller lists alice's offer")
check(offers[0]["amount"] == "100.0000000" and offers[0]["price_r"] == {"n": 2, "d": 1}, "offer amount and price_r")

# Bob sells 60 XLM for USD at 0.5 USD per XLM: crosses alice at her price, buys 30 USD.
response = submit(bob, lambda b: b.append_manage_sell_offer_op(selling=xlm, buying=usd, amount="60", price="0.5"))
taken = offer_result(response)
claims = taken.offers_claimed
check(len(claims) == 1, "bob's offer claimed one offer")
claim = claims[0].order_book
check(claim.offer_id.int64 == alice_offer_id, "the claim names alice's offer id")
check(claim.amount_sold.int64 == 30 * 10**7 and claim.amount_bought.int64 == 60 * 10**7, "30 USD for 60 XLM")
check(taken.offer.offer is None, "bob's offer was filled at once (deleted)")

def ours():
    return [t for t in trades if str(alice_offer_id) in (t["base_offer_id"], t["counter_offer_id"])
            and usd.code in (t.get("base_asset_code"), t.get("counter_asset_code"))
            and usd.issuer in (t.get("base_asset_issuer"), t.get("counter_asset_issuer"))]


def our_trade_effect():
    return any(e["type"] == "trade" and e["offer_id"] == str(alice_offer_id) and e["sold_amount"] == "30.0000000"
               for e in effects)


# Wait for each stream's own evidence (an earlier effect of alice's is not the trade's).
deadline = time.time() + 15
while time.time() < deadline and (not ours() or not our_trade_effect() or not any(b["asks"] and b["asks"][0]["amount"] == "70.0000000" for b in books)):
    time.sleep(0.1)
check(len(ours()) == 1, "the trades stream delivered the trade, with alice's offer id")
trade = ours()[0]
check({trade["base_account"], trade["counter_account"]} == {alice.public_key, bob.public_key}, "trade accounts")
check(any(b["asks"] and b["asks"][0]["amount"] == "70.0000000" for b in books),
      "the order book stream shows 70 USD left on the ask")
check(books[-1]["asks"][0]["price_r"] == {"n": 2, "d": 1}, "streamed book level price_r")

check(our_trade_effect(), "the effects stream delivered alice's trade effect")
page = server.trades().for_account(alice.public_key).call()["_embedded"]["records"]
check(len(page) == 1 and page[0]["id"] == trade["id"], "GET /accounts/{alice}/trades has the same trade")
page = server.trades().for_offer(alice_offer_id).call()["_embedded"]["records"]
check(len(page) == 1, "GET /trades?offer_id filters by offer")

check(balance(alice.public_key, usd) == Decimal("970"), "alice: 1000 - 30 USD")
check(balance(bob.public_key, usd) == Decimal("30"), "bob: 30 USD")
check(balance(bob.public_key, xlm) == Decimal("10000") - Decimal("60") - Decimal("0.0000200"),
      "bob: 10000 XLM - 60 - 2 fees")
check(balance(alice.public_key, xlm) == Decimal("10000") + Decimal("60") - Decimal("0.0000200"),
      "alice: 10000 XLM + 60 - 2 fees")
record = server.accounts().account_id(alice.public_key).call()
usd_line = next(line for line in record["balances"] if line.get("asset_code") == "USD")
check(usd_line["selling_liabilities"] == "70.0000000", "alice's USD selling liabilities are the resting 70")

# A replayed transaction: tx_bad_seq, as Horizon answers it.
account = server.load_account(bob.public_key)
account.sequence -= 1
stale = TransactionBuilder(account, network_passphrase=PASSPHRASE, base_fee=100).set_timeout(60)
stale = stale.append_manage_data_op("k", "v").build()
stale.sign(bob)
try:
    server.submit_transaction(stale)
    check(False, "a stale sequence number is refused")
except BadRequestError as error:
    check(error.extras["result_codes"]["transaction"] == "tx_bad_seq", "tx_bad_seq in extras.result_codes")

# Alice cancels the rest.
submit(alice, lambda b: b.append_manage_sell_offer_op(selling=usd, buying=xlm, amount="0", price="2",
                                                      offer_id=alice_offer_id))
check(server.offers().for_seller(alice.public_key).call()["_embedded"]["records"] == [], "offer cancelled")
try:
    server.offers().offer(alice_offer_id).call()
    check(False, "a cancelled offer is gone")
except NotFoundError:
    check(True, "GET /offers/{id} of a cancelled offer is 404")

txs = server.transactions().for_account(alice.public_key).order(desc=True).limit(2).call()
check(len(txs["_embedded"]["records"]) == 2 and txs["_embedded"]["records"][0]["successful"], "alice's transactions")
stop.set()
print("sdk trade on sim: all checks passed")
