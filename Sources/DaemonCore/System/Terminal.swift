// Terminal.swift: what flowadm needs to know about the terminal it prints to.

import CFlowdShim

public enum Terminal {
    /// The width of standard output in columns when it is a terminal, else nil.
    public static var outputColumns: Int? {
        let columns = flowd_terminal_columns(1)
        return columns > 0 ? Int(columns) : nil
    }
}
