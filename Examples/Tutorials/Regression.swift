import LSTMKit

/// Port of regression.py, line for line.
func regression(seed: UInt64, device: Device) throws -> Double {
    let (xTrain, yTrain) = (try loadNumpy("\(dataFolder)/regression_train_x.npy"), try loadNumpy("\(dataFolder)/regression_train_y.npy"))
    let (xTest, yTest) = (try loadNumpy("\(dataFolder)/regression_test_x.npy"), try loadNumpy("\(dataFolder)/regression_test_y.npy"))

    let model = Sequential([
        Input(shape: [20, 1]),
        LSTMLayer(units: 64),
        Dense(units: 5),
    ], device: device, seed: seed)
    model.compile(optimizer: try Adam(), loss: .meanSquaredError)
    try model.fit(x: xTrain, y: yTrain, epochs: 5, batchSize: 32, verbose: 0)
    let result = try model.evaluate(x: xTest, y: yTest)
    return result["loss"]!
}
