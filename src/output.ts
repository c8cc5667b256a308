/**
 * Output: the only place where text is made and written, always off the traced call.
 *
 * The traced call only appends its event to a bounded queue (an array push). The queue is
 * drained at the next turn of the event loop (`setImmediate`): events are formatted in a batch,
 * joined and written with one `write` per 64 KiB. A stream that signals back-pressure
 * (`write()` returns false) is waited for (`'drain'`), never forced: meanwhile the queue fills,
 * and once it holds `capacity` events further ones are dropped and counted, and one line says
 * how many. Memory therefore stays bounded (capacity x one bounded snapshot) and the event loop
 * is never blocked by tracing output. A user formatter or `io` function that throws loses that
 * line, is reported once, and never reaches the traced program.
 *
 * When the process exits with messages still queued, they are written synchronously from the
 * `'exit'` event (stderr and stdout are synchronous for files, TTYs and pipes on Linux).
 */
import { performance } from 'node:perf_hooks'
import { enterBusy, leaveBusy } from './state.js'
import { eventToJSONText, formatEvent, loadColor, type TraceEvent } from './format.js'
import type { Snap } from './snapshot.js'
import { mapFrames } from './stack.js'
import { wallTime } from './clock.js'
import { droppedNotice, noticeLine, tripLine } from './lines.js'
import type { LineKind } from './protocol.js'

export interface OutputOptions {
  /**
   * Where lines go: a stream, the user's `io` function, or (for the agent) a sink told each
   * line's kind, so that nothing downstream reads a kind from the text.
   */
  io: { stream: NodeJS.WritableStream } | { fn: (line: string) => void } | { sink: (line: string, kind: LineKind) => void }
  formatter: ((event: TraceEvent) => string) | undefined
  json: boolean
  color: boolean
  line: number
  /** Events that may wait; more are dropped and counted. */
  capacity: number
  /** Told once per kind of user-code failure (formatter, io function). */
  onUserError: (what: string, err: unknown) => void
  /**
   * Stats mode (stats.ts): the report as it is to be written, asked for when a report queued with
   * `stats()` is written: text lines, one JSON line, or for a sink the counters as JSON.
   */
  report?: (final: boolean) => string
}

/** A report of the stats mode, waiting in the queue: rendered when it is written, with what was counted by then. */
class StatsMark {
  constructor(readonly final: boolean) {}
}

/** Notices (diagnostic lines) kept at most per trace; they are few by construction. */
const MAX_NOTICES = 1000
const CHUNK = 64 * 1024
/**
 * Work per turn of the event loop. Formatting a full queue (10000 events) in one turn took
 * 11-50 ms here and delayed the program's own tasks by as much; 2 ms at most per turn (the
 * clock is read every 32 items) keeps the delay under the 10 ms goal while writing about
 * 4000 small messages per turn, and what cannot keep up is dropped by the bounded queue
 * (bench/flood.mjs: the delay and the flush turn).
 */
const TURN_MS = 2
const CLOCK_EVERY = 32

/**
 * Outputs with lines still to write, flushed synchronously if the process exits first. One
 * `'exit'` listener for all of them, installed only while there are any: a listener per trace
 * would pile up behind outputs whose stream never drains.
 */
const unfinished = new Set<Output>()
function flushAllAtExit(): void {
  for (const o of unfinished) o.flushAtExit()
}
function track(o: Output): void {
  if (unfinished.size === 0) process.on('exit', flushAllAtExit)
  unfinished.add(o)
}
function untrack(o: Output): void {
  if (unfinished.delete(o) && unfinished.size === 0) process.removeListener('exit', flushAllAtExit)
}

export class Output {
  /** Events, and notices (their message, rendered with the prefix or as JSON when written). */
  private items: (TraceEvent | string | StatsMark | undefined)[] = []
  /**
   * Index of the first item not yet written, and one past the last queued. Both go back to 0
   * once everything is written; the array keeps its length (its slots emptied), so that the next
   * burst fills it without growing it again (about 30 bytes per message, bench/message-bytes.mjs).
   */
  private head = 0
  private tail = 0
  private events = 0
  private notices = 0
  private dropped = 0
  private scheduled = false
  private waiting = false
  private colorReady: boolean
  private finished = false
  private onFinished: (() => void) | undefined
  /** Why the trace stopped, for its last line; undefined: it was cleared, no line. */
  private endReason: string | undefined
  private formatterFailed = false
  private ioFailed = false
  /** Lines of the last report written in place on a terminal, while nothing was written after it (0: none). */
  private inPlace = 0
  /**
   * Events already written, and their argument lists, for the next messages to fill: a burst
   * then allocates nothing per message, and the collections while it waits its turn have no
   * young events to copy (bench/message-bytes.mjs, bench/traced.mjs small-10k). Not with the
   * user's formatter, which is handed the event and may keep it.
   */
  readonly recycles: boolean
  private readonly spare: TraceEvent[] = []
  private readonly spareArgs: Snap[][] = []

  constructor(private readonly options: OutputOptions) {
    this.recycles = options.formatter === undefined
    this.colorReady = !options.color
    if (options.color) {
      void loadColor().then(() => {
        this.colorReady = true
        this.schedule()
      })
    }
    track(this)
  }

  /** Write everything still queued, now, ignoring back-pressure (the process is exiting). */
  flushAtExit(): void {
    this.flush(true)
  }

  /**
   * Whether the next event would be dropped. Checked on the traced call before anything is
   * captured, so a flood that overflows the queue costs a count, not a snapshot, per message.
   */
  get full(): boolean {
    return this.events >= this.options.capacity || this.finished
  }

  /** Count a message that was not captured because the queue is full. Hot path. */
  drop(): void {
    if (!this.finished) this.dropped++
  }

  /** An event written before, its fields to be set again; undefined: make one. Hot path. */
  reusable(): TraceEvent | undefined {
    return this.spare.pop()
  }

  /** An argument list written before (its length left to the caller); undefined: make one. Hot path. */
  reusableArgs(): Snap[] | undefined {
    return this.spareArgs.pop()
  }

  /** Keep a written event and its argument list for the next messages, holding none of its values. */
  private recycle(ev: TraceEvent): void {
    const args = ev.args
    if (args !== undefined && this.spareArgs.length < this.options.capacity) {
      for (let i = 0; i < args.length; i++) args[i] = undefined
      this.spareArgs.push(args)
    }
    ev.args = undefined
    ev.result = undefined
    ev.stack = undefined
    ev.duration = undefined
    if (this.spare.length < this.options.capacity) this.spare.push(ev)
  }

  private put(item: TraceEvent | string | StatsMark): void {
    if (this.tail < this.items.length) this.items[this.tail] = item
    else this.items.push(item)
    this.tail++
  }

  /** Queue one event; false if it was dropped because the queue is full. Hot path. */
  push(event: TraceEvent): boolean {
    if (this.finished) return false
    if (this.events >= this.options.capacity) {
      this.dropped++
      return false
    }
    this.events++
    this.put(event)
    if (!this.scheduled) this.schedule()
    return true
  }

  /** Queue a notice (a diagnostic line, lines.ts); not counted as a message. */
  notice(message: string): void {
    if (this.finished || this.notices >= MAX_NOTICES) return
    this.notices++
    this.put(message)
    if (!this.scheduled) this.schedule()
  }

  /**
   * Queue a report of the stats mode: `final` at the end of the trace (before its last line),
   * else a refresh, which a terminal shows in place of the one before.
   */
  stats(final: boolean): void {
    if (this.finished || this.options.report === undefined) return
    this.put(new StatsMark(final))
    if (!this.scheduled) this.schedule()
  }

  /**
   * End: the last line says why the trace stopped (none when `reason` is undefined: cleared);
   * once everything before it is written, `then` runs and the output closes.
   */
  end(reason: string | undefined, then?: () => void): void {
    if (this.finished) return
    this.endReason = reason
    this.finished = true
    this.onFinished = then
    this.schedule()
  }

  private schedule(): void {
    if (this.scheduled || this.waiting || !this.colorReady) return
    this.scheduled = true
    setImmediate(() => {
      this.scheduled = false
      this.flush(false)
    })
  }

  private render(item: TraceEvent | string): string | undefined {
    if (typeof item === 'string') return noticeLine(item, this.options.json)
    // The user's formatter reads the time off the event; ours take it themselves when it is 0
    // (a number written into a kept event would be one more young object per waiting event).
    if (item.time === 0 && !this.recycles) item.time = wallTime()
    if (item.stack) item.stack = mapFrames(item.stack)
    if (this.options.json) return eventToJSONText(item)
    if (this.options.formatter) {
      try {
        const s = this.options.formatter(item)
        return typeof s === 'string' && s !== '' ? s : undefined
      } catch (err) {
        if (!this.formatterFailed) {
          this.formatterFailed = true
          this.options.onUserError('the formatter', err)
        }
        return undefined
      }
    }
    return formatEvent(item, { color: this.options.color, line: this.options.line })
  }

  /**
   * A report, as written: on a terminal a refresh replaces the report written before it, if
   * nothing came after it (the cursor goes up that many lines and clears to the end).
   */
  private renderReport(mark: StatsMark): string | undefined {
    let text: string
    try {
      text = this.options.report!(mark.final)
    } catch {
      return undefined
    }
    if (!('stream' in this.options.io)) return text
    const erase = this.inPlace > 0 ? `\x1b[${this.inPlace}F\x1b[J` : ''
    this.inPlace = mark.final ? 0 : text.split('\n').length
    return erase + text
  }

  private droppedLine(): string | undefined {
    if (this.dropped === 0) return undefined
    const n = this.dropped
    this.dropped = 0
    return noticeLine(droppedNotice(n, 'the output', ` (queue of ${this.options.capacity})`), this.options.json)
  }

  /** Write what is queued. `sync`: at exit, ignore back-pressure and write everything now. */
  private flush(sync: boolean): void {
    if (this.waiting && !sync) return
    enterBusy()
    try {
      const items = this.items
      let i = this.head
      let chunk = ''
      const io = this.options.io
      // A stream gets the lines joined into writes of up to 64 KiB; a function or a sink gets
      // each line.
      const toFunction = 'fn' in io ? io.fn : undefined
      const sink = 'sink' in io ? io.sink : undefined
      const emit = (line: string, kind: LineKind): void => {
        if (sink !== undefined) {
          sink(line, kind)
          return
        }
        try {
          toFunction!(line)
        } catch (err) {
          if (!this.ioFailed) {
            this.ioFailed = true
            this.options.onUserError('the io function', err)
          }
        }
      }
      const write = (text: string): boolean => {
        if (toFunction || sink || text === '') return true
        try {
          return (io as { stream: NodeJS.WritableStream }).stream.write(text)
        } catch {
          return true
        }
      }
      const add = (line: string, kind: LineKind): void => {
        if (toFunction || sink) emit(line, kind)
        else chunk += `${line}\n`
      }
      let blocked = false
      const deadline = sync ? Infinity : performance.now() + TURN_MS
      // `this.tail`, read each time: a notice queued while writing (the formatter or io function
      // failed) is written in the same flush.
      while (i < this.tail) {
        // Let go of each item as it is written: a collection during the flush then copies only
        // the events still waiting, not the ones already formatted.
        const item = items[i]!
        items[i++] = undefined
        if (item instanceof StatsMark) {
          const report = this.renderReport(item)
          if (report !== undefined) {
            // A function is told each line of a text report; a sink the report whole.
            if (toFunction && !this.options.json) for (const l of report.split('\n')) emit(l, 'stats')
            else add(report, 'stats')
          }
        } else {
          if (typeof item !== 'string') this.events--
          if (this.inPlace > 0) this.inPlace = 0
          const line = this.render(item)
          if (line !== undefined) add(line, typeof item === 'string' ? 'notice' : 'line')
          if (this.recycles && typeof item !== 'string') this.recycle(item)
        }
        if (chunk.length >= CHUNK) {
          const ok = write(chunk)
          chunk = ''
          if (!ok && !sync) {
            blocked = true
            break
          }
        }
        if ((i & (CLOCK_EVERY - 1)) === 0 && performance.now() > deadline) break
      }
      if (i >= this.tail) {
        const d = this.droppedLine()
        if (d) add(d, 'notice')
        if (this.finished && this.endReason !== undefined) {
          this.inPlace = 0
          add(tripLine(this.endReason, this.options.json), 'end')
          this.endReason = undefined
        }
      }
      if (chunk !== '' && !write(chunk) && !sync) blocked = true
      if (i >= this.tail) {
        this.head = 0
        this.tail = 0
      } else this.head = i
      if (blocked && 'stream' in io) {
        this.waiting = true
        io.stream.once('drain', () => {
          this.waiting = false
          this.schedule()
        })
        return
      }
      if (this.head < this.tail) this.schedule()
      else if (this.finished) this.close()
    } finally {
      leaveBusy()
    }
  }

  private close(): void {
    untrack(this)
    const then = this.onFinished
    this.onFinished = undefined
    then?.()
  }
}
