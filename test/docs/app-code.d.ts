// The reader's own application code. The examples in README.md and docs/ call these names
// where a real app would call its own code (a data layer, a payment client): they are
// declared here, and only here, so that every example is otherwise a complete module that
// type-checks against the real packages. Keep it small; add a name only when a guide needs
// one, and never anything an example could import from a package instead.

interface AppUser { id: string, name: string }

/** The app's data layer. */
declare const db: {
  findUser (id: string): Promise<AppUser | null>
  query (text: string, values?: unknown[]): Promise<{ rows: unknown[] }>
  charge (payment: unknown): Promise<void>
}

/** The app's message queue client. */
declare const queue: {
  publish (message: unknown): Promise<void>
}
