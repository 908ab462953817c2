// The `lstm` executable: everything lives in LSTMCLI (see LSTMTool.swift); this only passes the arguments on.
import Foundation
import LSTMCLI

exit(LSTMTool.run(Array(CommandLine.arguments.dropFirst())))
