/// Where `padSequences` pads or cuts: before the values (`pre`, Keras' default) or after them (`post`).
public enum PadSide: String, Sendable {
    case pre, post
}
