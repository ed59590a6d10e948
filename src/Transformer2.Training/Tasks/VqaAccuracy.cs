using System.Text.RegularExpressions;

namespace Transformer2.Training.Tasks;

/// <summary>
/// The standard VQA accuracy, as the official evaluation (<c>vqaEval.py</c> of the VQA challenge) computes it: the
/// prediction is normalised (whitespace, punctuation, number words, articles, contractions); the human answers are
/// punctuation-normalised only when they disagree; then for each of the 10 leave-one-out subsets of 9 human answers the
/// score is <c>min(#matching / 3, 1)</c>, and the accuracy is their mean. TextVQA and OKVQA use the same metric.
/// </summary>
public static partial class VqaAccuracy
{
    static readonly string[] Punctuation = [";", "/", "[", "]", "\"", "{", "}", "(", ")", "=", "+", "\\", "_", "-", ">", "<", "@", "`", ",", "?", "!"];
    static readonly HashSet<string> Articles = ["a", "an", "the"];

    static readonly Dictionary<string, string> NumberWords = new()
    {
        ["none"] = "0", ["zero"] = "0", ["one"] = "1", ["two"] = "2", ["three"] = "3", ["four"] = "4",
        ["five"] = "5", ["six"] = "6", ["seven"] = "7", ["eight"] = "8", ["nine"] = "9", ["ten"] = "10",
    };

    // The official table (apostrophes restored in common contractions); capitalised keys never match after lower-casing, as there.
    static readonly Dictionary<string, string> Contractions = new()
    {
        ["aint"] = "ain't", ["arent"] = "aren't", ["cant"] = "can't", ["couldve"] = "could've", ["couldnt"] = "couldn't",
        ["couldn'tve"] = "couldn't've", ["couldnt've"] = "couldn't've", ["didnt"] = "didn't", ["doesnt"] = "doesn't", ["dont"] = "don't",
        ["hadnt"] = "hadn't", ["hadnt've"] = "hadn't've", ["hadn'tve"] = "hadn't've", ["hasnt"] = "hasn't", ["havent"] = "haven't",
        ["hed"] = "he'd", ["hed've"] = "he'd've", ["he'dve"] = "he'd've", ["hes"] = "he's", ["howd"] = "how'd", ["howll"] = "how'll",
        ["hows"] = "how's", ["Id've"] = "I'd've", ["I'dve"] = "I'd've", ["Im"] = "I'm", ["Ive"] = "I've", ["isnt"] = "isn't",
        ["itd"] = "it'd", ["itd've"] = "it'd've", ["it'dve"] = "it'd've", ["itll"] = "it'll", ["let's"] = "let's", ["maam"] = "ma'am",
        ["mightnt"] = "mightn't", ["mightnt've"] = "mightn't've", ["mightn'tve"] = "mightn't've", ["mightve"] = "might've",
        ["mustnt"] = "mustn't", ["mustve"] = "must've", ["neednt"] = "needn't", ["notve"] = "not've", ["oclock"] = "o'clock",
        ["oughtnt"] = "oughtn't", ["ow's'at"] = "'ow's'at", ["'ows'at"] = "'ow's'at", ["'ow'sat"] = "'ow's'at", ["shant"] = "shan't",
        ["shed've"] = "she'd've", ["she'dve"] = "she'd've", ["she's"] = "she's", ["shouldve"] = "should've", ["shouldnt"] = "shouldn't",
        ["shouldnt've"] = "shouldn't've", ["shouldn'tve"] = "shouldn't've", ["somebody'd"] = "somebodyd", ["somebodyd've"] = "somebody'd've",
        ["somebody'dve"] = "somebody'd've", ["somebodyll"] = "somebody'll", ["somebodys"] = "somebody's", ["someoned"] = "someone'd",
        ["someoned've"] = "someone'd've", ["someone'dve"] = "someone'd've", ["someonell"] = "someone'll", ["someones"] = "someone's",
        ["somethingd"] = "something'd", ["somethingd've"] = "something'd've", ["something'dve"] = "something'd've",
        ["somethingll"] = "something'll", ["thats"] = "that's", ["thered"] = "there'd", ["thered've"] = "there'd've",
        ["there'dve"] = "there'd've", ["therere"] = "there're", ["theres"] = "there's", ["theyd"] = "they'd", ["theyd've"] = "they'd've",
        ["they'dve"] = "they'd've", ["theyll"] = "they'll", ["theyre"] = "they're", ["theyve"] = "they've", ["twas"] = "'twas",
        ["wasnt"] = "wasn't", ["wed've"] = "we'd've", ["we'dve"] = "we'd've", ["weve"] = "we've", ["werent"] = "weren't",
        ["whatll"] = "what'll", ["whatre"] = "what're", ["whats"] = "what's", ["whatve"] = "what've", ["whens"] = "when's",
        ["whered"] = "where'd", ["wheres"] = "where's", ["whereve"] = "where've", ["whod"] = "who'd", ["whod've"] = "who'd've",
        ["who'dve"] = "who'd've", ["wholl"] = "who'll", ["whos"] = "who's", ["whove"] = "who've", ["whyll"] = "why'll",
        ["whyre"] = "why're", ["whys"] = "why's", ["wont"] = "won't", ["wouldve"] = "would've", ["wouldnt"] = "wouldn't",
        ["wouldnt've"] = "wouldn't've", ["wouldn'tve"] = "wouldn't've", ["yall"] = "y'all", ["yall'll"] = "y'all'll",
        ["y'allll"] = "y'all'll", ["yall'd've"] = "y'all'd've", ["y'alld've"] = "y'all'd've", ["y'all'dve"] = "y'all'd've",
        ["youd"] = "you'd", ["youd've"] = "you'd've", ["you'dve"] = "you'd've", ["youll"] = "you'll", ["youre"] = "you're",
        ["youve"] = "you've",
    };

    // "(?!<=\d)" is the official pattern's (inert) look-ahead; a period not followed by a digit is dropped.
    [GeneratedRegex(@"(?!<=\d)(\.)(?!\d)", RegexOptions.CultureInvariant)]
    private static partial Regex PeriodStrip();

    [GeneratedRegex(@"(\d)(,)(\d)", RegexOptions.CultureInvariant)]
    private static partial Regex CommaStrip();

    /// <summary>The accuracy in [0, 1] of <paramref name="prediction"/> against the human <paramref name="answers"/> (usually 10).</summary>
    /// <exception cref="ArgumentException">No answers were given.</exception>
    public static double Score(string prediction, IReadOnlyList<string> answers)
    {
        ArgumentNullException.ThrowIfNull(prediction);
        ArgumentNullException.ThrowIfNull(answers);
        if (answers.Count == 0) throw new ArgumentException("VQA accuracy needs at least one human answer.", nameof(answers));
        string predicted = NormalizePrediction(prediction);
        var humans = answers.Distinct(StringComparer.Ordinal).Count() > 1 ? answers.Select(ProcessPunctuation).ToArray() : answers.ToArray();
        double total = 0;
        for (int left = 0; left < humans.Length; left++)
        {
            int matching = 0;
            for (int j = 0; j < humans.Length; j++)
                if (j != left && humans[j] == predicted) matching++;
            total += Math.Min(1.0, matching / 3.0);
        }
        return total / humans.Length;
    }

    /// <summary>The official normalisation of a predicted answer: whitespace, punctuation, then number words, articles and contractions.</summary>
    public static string NormalizePrediction(string prediction)
    {
        ArgumentNullException.ThrowIfNull(prediction);
        string text = prediction.Replace('\n', ' ').Replace('\t', ' ').Trim();
        return ProcessDigitArticle(ProcessPunctuation(text));
    }

    /// <summary>
    /// The official punctuation rule: a mark next to a space (or anywhere, when the text holds a digit-comma-digit) is
    /// removed, otherwise replaced by a space; then periods not followed by a digit are removed (at most 32, as the
    /// official call passes <c>re.UNICODE</c> where the count goes).
    /// </summary>
    public static string ProcessPunctuation(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string output = text;
        bool commaBetweenDigits = CommaStrip().IsMatch(text);
        foreach (string mark in Punctuation)
        {
            bool remove = text.Contains(mark + " ", StringComparison.Ordinal) || text.Contains(" " + mark, StringComparison.Ordinal) || commaBetweenDigits;
            output = output.Replace(mark, remove ? "" : " ", StringComparison.Ordinal);
        }
        return PeriodStrip().Replace(output, "", 32);
    }

    /// <summary>Lower-cases, maps number words to digits, drops articles and restores contractions; words are re-joined by single spaces.</summary>
    public static string ProcessDigitArticle(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var words = new List<string>();
        foreach (string raw in text.ToLowerInvariant().Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries))
        {
            string word = NumberWords.GetValueOrDefault(raw, raw);
            if (!Articles.Contains(word)) words.Add(Contractions.GetValueOrDefault(word, word));
        }
        return string.Join(' ', words);
    }
}
