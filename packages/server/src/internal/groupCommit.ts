/** Group commit: requests that arrive while a batch is being written wait together and go in the next one. */
import { Deferred, Effect, Exit, Queue, type Scope } from "effect"

interface Waiting<I, A, E> {
  readonly input: I
  readonly done: Deferred.Deferred<A, E>
}

/**
 * A function that submits one request and waits for its own answer. One fiber writes: it takes every request that
 * is waiting (at most `maxBatch`) and hands them to `run`, which answers each (`run`'s answers are in request order).
 * While a batch is being committed the next one gathers, so N concurrent callers cost about one commit per round,
 * not N; and each caller waits on its own Deferred, so a commit wakes exactly the callers it answers.
 */
export const make = <I, A, E, E2, R>(
  run: (batch: ReadonlyArray<I>) => Effect.Effect<ReadonlyArray<Exit.Exit<A, E>>, E2, R>,
  maxBatch: number
): Effect.Effect<(input: I) => Effect.Effect<A, E | E2>, never, Scope.Scope | R> =>
  Effect.gen(function* () {
    const queue = yield* Effect.acquireRelease(Queue.unbounded<Waiting<I, A, E | E2>>(), Queue.shutdown)
    const writer = Effect.gen(function* () {
      const batch = Array.from(yield* Queue.takeBetween(queue, 1, maxBatch))
      const answers = yield* Effect.exit(run(batch.map((w) => w.input)))
      yield* Effect.forEach(batch, (w, i) => {
        // A batch that failed as a whole (the store was unreachable) fails each of its requests the same way.
        const answer: Exit.Exit<A, E | E2> = Exit.isSuccess(answers)
          ? (answers.value[i] ?? Exit.die(new Error("group commit: the batch gave no answer for a request")))
          : Exit.failCause(answers.cause)
        return Deferred.done(w.done, answer)
      })
    })
    yield* Effect.forkScoped(Effect.forever(writer))
    return (input: I) =>
      Effect.flatMap(Deferred.make<A, E | E2>(), (done) => Effect.zipRight(Queue.offer(queue, { input, done }), Deferred.await(done)))
  })
