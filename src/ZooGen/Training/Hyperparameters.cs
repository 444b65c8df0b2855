namespace WeightSpace.ZooGen.Training;

/// <summary>Hidden-layer activation of a zoo model.</summary>
public enum Activation
{
    /// <summary>tanh ("tanh").</summary>
    Tanh,
    /// <summary>Logistic sigmoid ("sigmoid").</summary>
    Sigmoid,
    /// <summary>max(0, x) ("relu").</summary>
    Relu,
    /// <summary>x·Φ(x), the exact form ("gelu").</summary>
    Gelu,
}

/// <summary>Weight initialisation (biases are 0.01): U(0, 1), N(0, 1), Kaiming (gain √2, fan-in) and Xavier (fan-in + fan-out), uniform or normal.</summary>
public enum Init
{
    /// <summary>U(0, 1) ("uniform", torch's nn.init default).</summary>
    Uniform,
    /// <summary>N(0, 1) ("normal").</summary>
    Normal,
    /// <summary>U(±√(6 / fan_in)) ("kaiming_uniform").</summary>
    KaimingUniform,
    /// <summary>N(0, 2 / fan_in) ("kaiming_normal").</summary>
    KaimingNormal,
    /// <summary>U(±√(6 / (fan_in + fan_out))) ("xavier_uniform").</summary>
    XavierUniform,
    /// <summary>N(0, 2 / (fan_in + fan_out)) ("xavier_normal").</summary>
    XavierNormal,
}

/// <summary>Optimiser: Adam, SGD with momentum 0.9, RMSprop (weight decay added to the gradient, as torch.optim).</summary>
public enum Optimizer
{
    /// <summary>Adam ("adam").</summary>
    Adam,
    /// <summary>SGD with momentum 0.9 ("sgd").</summary>
    Sgd,
    /// <summary>RMSprop ("rmsprop").</summary>
    RmsProp,
}

/// <summary>
/// The one place where the closed sets above meet their names: recipes (JSON / YAML), the CLI and the zoo's text
/// columns use these names ("tanh", "kaiming_uniform", "rmsprop", the names of torch and the Model Zoos); code uses
/// the enums. Unknown names are an error that lists the valid ones.
/// </summary>
public static class Hyperparameters
{
    private static readonly (Activation Value, string Name)[] ActivationNames =
        { (Activation.Tanh, "tanh"), (Activation.Relu, "relu"), (Activation.Sigmoid, "sigmoid"), (Activation.Gelu, "gelu") };
    private static readonly (Init Value, string Name)[] InitNames =
    {
        (Init.Uniform, "uniform"), (Init.Normal, "normal"), (Init.KaimingUniform, "kaiming_uniform"),
        (Init.KaimingNormal, "kaiming_normal"), (Init.XavierUniform, "xavier_uniform"), (Init.XavierNormal, "xavier_normal"),
    };
    private static readonly (Optimizer Value, string Name)[] OptimizerNames =
        { (Optimizer.Adam, "adam"), (Optimizer.Sgd, "sgd"), (Optimizer.RmsProp, "rmsprop") };

    /// <summary>The name of an activation ("tanh", …).</summary>
    public static string Name(this Activation value) => NameOf(ActivationNames, value);
    /// <summary>The name of an initialisation ("kaiming_uniform", …).</summary>
    public static string Name(this Init value) => NameOf(InitNames, value);
    /// <summary>The name of an optimiser ("adam", …).</summary>
    public static string Name(this Optimizer value) => NameOf(OptimizerNames, value);

    /// <summary>Parses an activation name.</summary>
    /// <exception cref="ArgumentException">Not an activation name (the message lists them).</exception>
    public static Activation ParseActivation(string name) => Parse(ActivationNames, name, "activation");
    /// <summary>Parses an initialisation name.</summary>
    /// <exception cref="ArgumentException">Not an initialisation name (the message lists them).</exception>
    public static Init ParseInit(string name) => Parse(InitNames, name, "init");
    /// <summary>Parses an optimiser name.</summary>
    /// <exception cref="ArgumentException">Not an optimiser name (the message lists them).</exception>
    public static Optimizer ParseOptimizer(string name) => Parse(OptimizerNames, name, "optimizer");

    private static string NameOf<T>((T Value, string Name)[] table, T value) where T : struct, Enum
    {
        foreach (var (v, n) in table) if (EqualityComparer<T>.Default.Equals(v, value)) return n;
        throw new ArgumentOutOfRangeException(nameof(value), value, $"not a defined {typeof(T).Name}");
    }

    private static T Parse<T>((T Value, string Name)[] table, string name, string what)
    {
        foreach (var (v, n) in table) if (n == name) return v;
        throw new ArgumentException($"{what} '{name}' is not one of {string.Join(", ", table.Select(p => p.Name))}.");
    }
}
