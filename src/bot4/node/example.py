"""The commented example config: what ``bot4 config example`` prints and what ``bot4 paper``
runs without ``--config`` (the paper demo). A test checks that ``bot4 config check`` accepts it."""

from __future__ import annotations

__all__ = ["EXAMPLE_CONFIG"]

EXAMPLE_CONFIG = """\
# Bot4 node config: the paper demo. `bot4 paper` runs exactly this when given no --config.
# Copy it (`bot4 config example > node.toml`), edit, and check it with `bot4 config check node.toml`.
# Every key is optional unless marked required; the values shown are the defaults unless noted.
# Secrets never go in this file: API keys come from the environment (see [[venues]]).

[node]
name = "node"                  # the node id in the store (`bot4 orders --node`)
trader_id = "BOT4"             # part of every client order id
data_dir = "bot4-data"         # the SQLite store, spill files, node state; relative to the working dir
cancel_on_stop = true          # cancel this node's open orders when it stops
shutdown_timeout_s = 10.0      # how long a stop waits for acknowledgements of in-flight orders
start_timeout_s = 15.0         # how long start-up waits for each venue to connect

[store]
# url = "sqlite:///bot4-data/bot4.db"     # default: bot4.db under data_dir
# url = "postgresql://bot4@127.0.0.1:5432/bot4"   # password from PGPASSWORD, never here
trade_during_outage = false    # true: keep trading on the fsync'ed spill file while the database is down
write_ahead_timeout_s = 5.0    # an order whose intent is not durable within this is refused

# One table per venue. kind = "local": the local Binance-compatible exchange, started by the
# node on 127.0.0.1, replaying recorded market data; Bot4 talks to it through the real Binance
# adapter (REST + WebSocket). kind = "binance": Binance spot (or the testnet), keys from the
# environment variables <credentials_env>_API_KEY and <credentials_env>_API_SECRET; in
# `bot4 paper` its orders are filled by the simulated venue on Binance's live prices.
[[venues]]
kind = "local"                 # required: "local" or "binance"
name = "BINANCE"               # venue part of instrument ids (BTCUSDT.BINANCE)
symbols = ["BTCUSDT"]          # the local exchange replays one symbol (BTCUSDT or ETHUSDT)
data = "sample"                # local: "sample" (6 minutes of real Binance BTCUSDT, bundled) or a file
speed = 1.0                    # local: replay speed, 1.0 real time, 10.0 ten times faster, 0 flat out
balances = { USDT = "100000", BTC = "1" }   # the account's starting balances (local, and paper)

# [[venues]]
# kind = "binance"
# name = "BINANCE"
# symbols = ["BTCUSDT"]
# testnet = false              # true: testnet.binance.vision (free test funds)
# rest_url = "https://api.binance.com"        # default from testnet; set to reach another server
# ws_url = "wss://stream.binance.com:9443"
# credentials_env = "BINANCE"  # reads BINANCE_API_KEY and BINANCE_API_SECRET
# recv_window_ms = 5000
# trade_stream = "trade"       # or "aggTrade"

# One table per strategy (at least one): a shipped example (ema_cross, market_maker),
# package.module:Class, or path/to/file.py:Class (relative to this file).
[[strategies]]
name = "ema_cross"

[strategies.config]
instrument_id = "BTCUSDT.BINANCE"
trade_size = "0.01"
fast_period = 10
slow_period = 50
allow_short = true             # on spot this sells BTC the account holds

# Pre-trade risk: every order passes these checks before it reaches a venue. All optional;
# without [risk] nothing is checked. A breach of the loss limits halts trading until an
# operator resumes it (`bot4 status --kill resume`).
[risk]
max_order_qty = "1"
max_order_notional = "100000"  # USDT
max_position = "0.5"           # BTC, counting working orders
max_gross_exposure = "150000"  # USDT
price_band_bps = 500           # limit prices within 5% of the mark
max_open_orders = 20
max_orders_per_second = 20
daily_loss_limit = "2000"      # USDT, realised net of fees since 00:00 UTC
max_drawdown_bps = 500         # 5% below the equity high-water mark

[metrics]
enabled = true
port = 9464                    # Prometheus text at http://127.0.0.1:9464/metrics; 0: any free port

[api]
enabled = true
port = 9465                    # status API on 127.0.0.1; token from BOT4_API_TOKEN, else generated and printed

[logging]
level = "INFO"                 # DEBUG, INFO, WARNING, ERROR
json = false                   # one JSON object per line

[live]                         # read by `bot4 live` only
i_understand_this_trades_real_money = false   # or pass --i-understand-this-trades-real-money
start_state = "HALTED"         # HALTED (safe: nothing trades until `bot4 status --kill resume`), REDUCING or ACTIVE
"""
