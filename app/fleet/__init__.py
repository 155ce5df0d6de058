"""What the fleet shares in Redis and how a ticket moves through it: claims, sweeps, quotas, stores
and the ticket's outcome.

Every key the fleet writes (all under REDIS_PREFIX, empty by default, so fleets, demos and tests
can share a server), and the module that owns it:
- `ticket:<id>:claim`  "host:pid", SET NX EX CLAIM_TTL, kept alive by every stage, deleted by
                       the ticket's outcome (claims.Claims)
- `ticket:<id>:done`   time written, EX DONE_TTL: stops a ticket just written from being swept
                       again while Zendesk's search still lags (claims.Claims)
- `ticket:<id>:dead`   JSON {ticket_id, stage, reason, run_id, at}: failed for good; sweeps skip
                       it until `python -m app dead-letters --requeue`; `dead:index` lists them
                       (claims.DeadLetters)
- `intake:pending`     sorted set of ticket ids webhooks announced, by arrival; triage.intake takes
                       them and claims them through the sweep (intake.IntakeQueue)
- `intake:seen:<digest>`  a signed delivery already taken, EX 660 s: a repeat starts nothing
                       (intake.IntakeQueue); `intake:stats` hash of deliveries and tickets by outcome
- `zendesk:paused`, `llm:paused`  PX set after a 429 (or spent LLM quota headers): every client
                       waits it out (store.RedisPauseGate)
- `llm:fault`, `zendesk:fault`  the configuration fault holding the LLM or Zendesk breaker open
                       (store.FaultRecord)
- `zendesk:oauth:token`  hash {value, expires_at, lifetime}, PX until it expires: the fleet's one
                       OAuth access token; `zendesk:oauth:renewing` the lock of the process renewing
                       it (store.SharedTokenStore)
- `zendesk:priority_mode`  hash {mode, why, at}: who raises priorities as last looked at, and
                       `zendesk:priority_mode:looking` the lock of the process looking (app.services)
- `zendesk:jobs`       sorted set of batch rounds holding one of the fleet's update_many job
                       slots, scored by expiry (store.JobSlots)
- `bulkjob:<run>:<batch>:<round>`  JSON {sent_at, ticket_ids, job_id}: the job a round sent
                       (store.BulkJobLog)
- `ratelimit:<name>`   a shared token bucket: zendesk:account, zendesk:update_ticket,
                       zendesk:export, zendesk:incremental, llm:requests, llm:tokens
                       (ratelimit.SharedRateLimiter)
- `breaker:zendesk`, `breaker:llm`  pybreaker's shared breaker state (app.clients.breakers)
- `run:<id>` hash of run metadata, `run:<id>:finished` counter, `run:<id>:summary` JSON; `runs`
  sorted set of run ids by start; `sweep:last`, `run:completed:last`; `learn:override` JSON, the
  agent override rate `train --from-zendesk` last measured, which run summaries carry (store.RunStore)
- `metrics:<family>`   hash of a Prometheus counter family, fields the label values joined by `|`
                       (histograms: a field per bucket, and `sum`, `count`), only ever HINCRBY'd:
                       tickets, modes, fallbacks, created_to_written, claim_to_written, gate,
                       llm_requests, llm_tokens, llm_cost, zendesk_requests, limiter_wait;
                       `run:<id>:metered` (EX 90 days) counts a run's tickets once (meters.Meters;
                       read by app.ops.metrics, `python -m app metrics`)
- `predictions:<YYYY-MM-DD>`  hash of ticket id -> JSON prediction (values, confidences, mode, what
                       was written), by the UTC day recorded, EX PREDICTION_RETENTION_DAYS + 1 day;
                       read by `python -m app accuracy` (predictions.PredictionStore)
- `alert:<condition>`  an alert's cool-down (app.ops.alerts)
- `llm:cache:<hash>`   a valid LLM answer by request (app.clients.llm.RedisAnalysisCache)
- `llm:budget:<YYYY-MM-DD>`  hash of the UTC day's LLM spend in nano-dollars against
                       LLM_DAILY_BUDGET_USD: settled, reserved, limit, requests, refused, warned_at,
                       reached_at; EX 8 days after its last write (budget.DailyBudget)
Besides these, Celery keeps its queues, results and chord counters, and RedBeat its schedule and
lock (`redbeat:`), under the same prefix.
"""
