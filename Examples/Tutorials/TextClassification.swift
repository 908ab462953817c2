import LSTMKit

/// Port of text_classification.py, line for line.
func textClassification(seed: UInt64, device: Device) throws -> Double {
    let (xTrain, yTrain) = (try loadNumpy("\(dataFolder)/text_train_x.npy"), try loadNumpy("\(dataFolder)/text_train_y.npy"))
    let (xTest, yTest) = (try loadNumpy("\(dataFolder)/text_test_x.npy"), try loadNumpy("\(dataFolder)/text_test_y.npy"))

    let model = Sequential([
        Input(shape: [40]),
        Embedding(inputDim: 1000, outputDim: 64),
        LSTMLayer(units: 64),
        Dense(units: 4, activation: .softmax),
    ], device: device, seed: seed)
    model.compile(optimizer: try Adam(), loss: .sparseCategoricalCrossentropy(), metrics: [.accuracy])
    try model.fit(x: xTrain, y: yTrain, epochs: 5, batchSize: 32, verbose: 0)
    let result = try model.evaluate(x: xTest, y: yTest)
    return result["accuracy"]!
}
