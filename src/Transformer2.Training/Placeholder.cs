namespace Transformer2.Training;
internal static class Placeholder { }
