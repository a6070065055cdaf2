/*
 * The nats input (relay mode): a durable pull consumer on a JetStream stream that the nats
 * outputs of edge agents fill. Each message, a record in the input's format, is handed to every
 * output of this pollster (engine_relay_write) and acknowledged only once every output has it
 * out of its memory: delivered, written to its spool or its file (or dropped and counted, when it
 * has no spool and its queue is full). Until then it is not acknowledged, so a relay killed or
 * stopped leaves it to JetStream, which delivers it again (to this relay after a restart, or to
 * another relay sharing the consumer) after ack_wait: at least once end to end.
 *
 * Messages delivered again are handed to the outputs once: a message whose Nats-Msg-Id was
 * handed within dedup_window is acknowledged without being handed again (a copy still waiting
 * for its outputs replaces the older delivery). The window lives in memory: after a relay's
 * restart, or across relays, a message that was handed but not acknowledged is handed again.
 *
 * libnats' JetStream calls wait for their answers (which the loop reads), so a helper thread
 * binds the consumer and fetches; it hands messages to the loop through an eventfd and waits
 * while max_pending messages are unacknowledged.
 */
#ifndef POLLSTER_IN_NATS_H
#define POLLSTER_IN_NATS_H

#include "inputs.h"

/* The nats input's row in the inputs registry. */
extern const struct input_type in_nats_type;

#endif
