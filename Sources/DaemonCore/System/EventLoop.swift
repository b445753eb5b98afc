// EventLoop.swift: one thread, one epoll set, every event source of a subsystem.
//
// The dispatcher (engine) and nothing else owns an EventLoop: descriptors (inotify,
// signalfd) and timers are registered on the loop thread and their handlers run there,
// so the state they touch needs no lock. Other threads (workers, the journal writer,
// the control server) hand work to the loop with `execute`, which queues a closure and
// wakes epoll through an eventfd. Timers live in a min-heap ordered by deadline; the
// epoll timeout is the time to the earliest one. Failures of epoll itself are bugs and
// trap; a handler's own errors are the handler's business.

#if canImport(Glibc)
import Glibc
#endif
import CFlowdShim
import Synchronization

/// An epoll-based event loop confined to the thread that calls `run()`.
public final class EventLoop: @unchecked Sendable {
    /// Identifies a scheduled timer, for cancellation.
    public struct TimerID: Hashable, Sendable { fileprivate let value: UInt64 }

    private struct Timer {
        var deadline: ContinuousClock.Instant
        var id: TimerID
        var work: () -> Void
    }

    private let epollDescriptor: Int32
    private let wakeDescriptor: Int32
    /// Guarded by the Mutex: closures queued from any thread, and the stop flag.
    private let inbox = Mutex<(work: [@Sendable () -> Void], stopRequested: Bool)>(([], false))
    // The fields below belong to the loop thread.
    private var handlers: [Int32: (UInt32) -> Void] = [:]
    private var timers = MinimumHeap<Timer>(by: { ($0.deadline, $0.id.value) < ($1.deadline, $1.id.value) })
    /// Timers scheduled and neither fired nor cancelled.
    private var pendingTimers: Set<TimerID> = []
    private var nextTimerValue: UInt64 = 1
    private var loopThread: pthread_t?

    public init() throws(SystemError) {
        epollDescriptor = try systemCall("epoll_create1") { flowd_epoll_create() }
        wakeDescriptor = try systemCall("eventfd") { flowd_eventfd() }
        try systemCall("epoll_ctl") { [epollDescriptor, wakeDescriptor] in
            flowd_epoll_control(epollDescriptor, 1, wakeDescriptor, flowd_epollin)
        }
    }

    deinit {
        close(wakeDescriptor)
        close(epollDescriptor)
    }

    /// True on the loop's own thread while `run()` is active.
    public var inLoop: Bool {
        guard let loopThread else { return false }
        return pthread_equal(loopThread, pthread_self()) != 0
    }

    /// Queues `work` to run on the loop thread. Safe from any thread.
    public func execute(_ work: @escaping @Sendable () -> Void) {
        // Only the first item of a batch wakes the loop: it takes the whole inbox at once,
        // so work added while items are pending is seen with them (a write(2) fewer each).
        let wasEmpty = inbox.withLock { state in
            defer { state.work.append(work) }
            return state.work.isEmpty
        }
        if wasEmpty { wake() }
    }

    /// Makes `run()` return after the current iteration. Safe from any thread.
    public func stop() {
        inbox.withLock { $0.stopRequested = true }
        wake()
    }

    /// Watches `descriptor` for `events` (EPOLLIN etc.); `handler` gets the ready events.
    /// Loop thread only (or before `run()`).
    public func register(_ descriptor: Int32, events: UInt32 = flowd_epollin,
                         handler: @escaping (UInt32) -> Void) throws(SystemError) {
        try systemCall("epoll_ctl", "add \(descriptor)") { flowd_epoll_control(epollDescriptor, 1, descriptor, events) }
        handlers[descriptor] = handler
    }

    /// Stops watching `descriptor` (does not close it). Loop thread only.
    public func unregister(_ descriptor: Int32) {
        handlers[descriptor] = nil
        _ = flowd_epoll_control(epollDescriptor, 0, descriptor, 0)
    }

    /// Runs `work` on the loop thread at `deadline`. Loop thread only (or before `run()`).
    @discardableResult
    public func schedule(at deadline: ContinuousClock.Instant, _ work: @escaping () -> Void) -> TimerID {
        let id = TimerID(value: nextTimerValue)
        nextTimerValue += 1
        timers.insert(Timer(deadline: deadline, id: id, work: work))
        pendingTimers.insert(id)
        return id
    }

    /// Runs `work` on the loop thread after `delay`. Loop thread only.
    @discardableResult
    public func schedule(after delay: Duration, _ work: @escaping () -> Void) -> TimerID {
        schedule(at: .now + delay, work)
    }

    /// Cancels a timer that has not fired yet (a fired one is ignored). Loop thread only.
    public func cancel(_ timer: TimerID) {
        pendingTimers.remove(timer)
    }

    /// Runs the loop on the calling thread until `stop()`.
    public func run() {
        loopThread = pthread_self()
        defer { loopThread = nil }
        var readyDescriptors = [Int32](repeating: 0, count: 64)
        var readyEvents = [UInt32](repeating: 0, count: 64)
        while true {
            let (work, stopRequested) = inbox.withLock { state in
                defer { state.work.removeAll(keepingCapacity: true) }
                return (state.work, state.stopRequested)
            }
            for item in work { item() }
            if stopRequested { return }
            fireDueTimers()
            let ready = flowd_epoll_wait(epollDescriptor, &readyDescriptors, &readyEvents, 64, timeoutMilliseconds())
            if ready < 0 {
                precondition(errno == EINTR, "epoll_wait failed: errno \(errno)")
                continue
            }
            for index in 0..<Int(ready) {
                let descriptor = readyDescriptors[index]
                if descriptor == wakeDescriptor {
                    var counter: UInt64 = 0
                    _ = read(wakeDescriptor, &counter, 8)
                } else if let handler = handlers[descriptor] {
                    handler(readyEvents[index])
                }
            }
        }
    }

    private func wake() {
        var one: UInt64 = 1
        _ = write(wakeDescriptor, &one, 8)
    }

    private func fireDueTimers() {
        let now = ContinuousClock.now
        while let first = timers.first, first.deadline <= now {
            let timer = timers.removeFirst()
            guard pendingTimers.remove(timer.id) != nil else { continue }  // cancelled
            timer.work()
        }
    }

    private func timeoutMilliseconds() -> Int32 {
        if inbox.withLock({ !$0.work.isEmpty || $0.stopRequested }) { return 0 }
        guard let first = timers.first else { return -1 }
        let remaining = first.deadline - ContinuousClock.now
        if remaining <= .zero { return 0 }
        let (seconds, attoseconds) = remaining.components
        let milliseconds = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return Int32(clamping: milliseconds)
    }
}

/// A binary min-heap with a caller-given ordering.
struct MinimumHeap<Element> {
    private var storage: [Element] = []
    private let areInIncreasingOrder: (Element, Element) -> Bool

    init(by areInIncreasingOrder: @escaping (Element, Element) -> Bool) {
        self.areInIncreasingOrder = areInIncreasingOrder
    }

    var first: Element? { storage.first }
    var count: Int { storage.count }
    var isEmpty: Bool { storage.isEmpty }

    mutating func insert(_ element: Element) {
        storage.append(element)
        var child = storage.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard areInIncreasingOrder(storage[child], storage[parent]) else { break }
            storage.swapAt(child, parent)
            child = parent
        }
    }

    mutating func removeFirst() -> Element {
        storage.swapAt(0, storage.count - 1)
        let removed = storage.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < storage.count, areInIncreasingOrder(storage[left], storage[smallest]) { smallest = left }
            if right < storage.count, areInIncreasingOrder(storage[right], storage[smallest]) { smallest = right }
            if smallest == parent { break }
            storage.swapAt(parent, smallest)
            parent = smallest
        }
        return removed
    }
}
