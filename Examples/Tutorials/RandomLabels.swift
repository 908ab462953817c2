import LSTMKit

/// Port of random_labels.py, line for line.
func randomLabels(seed: UInt64, device: Device) throws -> Double {
    let (xTrain, yTrain) = (try loadNumpy("\(dataFolder)/random_train_x.npy"), try loadNumpy("\(dataFolder)/random_train_y.npy"))
    let (xTest, yTest) = (try loadNumpy("\(dataFolder)/random_test_x.npy"), try loadNumpy("\(dataFolder)/random_test_y.npy"))

    let model = Sequential([
        Input(shape: [10, 8]),
        LSTMLayer(units: 10),
        Dense(units: 10, activation: .tanh),
        Dense(units: 10, activation: .softmax),
    ], device: device, seed: seed)
    model.compile(optimizer: try Adam(), loss: .sparseCategoricalCrossentropy(), metrics: [.accuracy])
    try model.fit(x: xTrain, y: yTrain, epochs: 5, batchSize: 32, verbose: 0)
    let result = try model.evaluate(x: xTest, y: yTest)
    return result["accuracy"]!
}
