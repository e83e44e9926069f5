// Small machines that use what the Exekra machines do not (nesting, parallel regions, inline and parameterised
// guards and actions, names that need escaping), so the diagram renderers are checked on every path.
import { assign, setup } from "xstate"

function ring(): void {}

/** A door: a compound `closed` state, a parallel `alarm`, root transitions, guards with parameters and inline code. */
export const doorMachine = setup({
  types: {
    context: {} as { knocks: number },
    events: {} as
      | { type: "UNLOCK" }
      | { type: "LOCK" }
      | { type: "OPEN" }
      | { type: "CLOSE" }
      | { type: "KNOCK" }
      | { type: "TRIP" }
      | { type: "RESET" }
      | { type: "WAIT" }
  },
  guards: {
    codeAccepted: (_, _params: { readonly digits: number; readonly retries: number; readonly policy: { readonly strict: boolean } }) => true,
    isClear: () => true
  },
  actions: {
    log: () => {}
  }
}).createMachine({
  id: "door",
  context: { knocks: 0 },
  initial: "closed",
  on: {
    RESET: { target: ".closed" },
    WAIT: {}
  },
  states: {
    closed: {
      initial: "locked",
      on: { OPEN: { target: "open", guard: "isClear" } },
      states: {
        locked: {
          on: {
            UNLOCK: { target: "unlocked", guard: { type: "codeAccepted", params: { digits: 4, retries: 3, policy: { strict: true } } } },
            KNOCK: { actions: [assign({ knocks: ({ context }) => context.knocks + 1 }), ring, () => {}] }
          }
        },
        unlocked: { on: { LOCK: "locked" } }
      }
    },
    open: {
      always: [
        { target: "closed", guard: function windy() { return false } },
        { guard: ({ context }) => context.knocks > 9, actions: [{ type: "log" }, assign({ knocks: 0 })] }
      ],
      on: { CLOSE: "closed", TRIP: "alarm" }
    },
    alarm: {
      type: "parallel",
      states: {
        siren: { initial: "on", states: { on: {}, off: {} } },
        light: { initial: "flashing", states: { flashing: {} } }
      }
    }
  }
})

/** Two regions and no initial state, with a transition that applies everywhere. */
export const pairMachine = setup({ actions: { log: () => {} } }).createMachine({
  id: "pair",
  type: "parallel",
  on: { PING: { actions: "log" } },
  states: { left: {}, right: {} }
})

/** Names that Mermaid and DOT cannot take as they are. */
export const escapeMachine = setup({
  types: { events: {} as { type: "knock:knock; #1 \\ 2" } | { type: 'say "hi" \\ bye' } | { type: "two\nlines" } },
  actions: { "back\\slash": () => {}, 'quote"d': () => {} }
}).createMachine({
  id: 'the "door"',
  initial: "half-open",
  states: {
    "half-open": {
      on: {
        "knock:knock; #1 \\ 2": "wide open",
        'say "hi" \\ bye': { actions: ["back\\slash", 'quote"d'] }
      }
    },
    "wide open": { on: { "two\nlines": "half-open" } }
  }
})
