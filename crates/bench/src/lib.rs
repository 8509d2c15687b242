//! Benchmark tools for Switchyard: `loadgen`, an open-loop fixed-rate load generator that
//! measures latency from each request's intended send time (so a stalled server cannot hide
//! its queueing: no coordinated omission), and `bare-proxy`, a minimal hyper pass-through
//! reverse proxy that is the floor any gateway can reach. `bench/run.py` drives them.
