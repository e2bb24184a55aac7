"""Travel, sports and music dialogues for the embedded default dataset.

Format (parsed by :func:`rlhf_text.default_data.parse_dialogues`): ``@ topic | phrase`` starts a
topic (the phrase completes "a question about ..."); ``how:``, ``what:`` and ``why:`` lines give
a subject that question templates turn into prompts; ``ask:`` lines give literal questions
separated by ``|``; each ``=`` line is one chosen answer; an indented line continues the line
above.
"""

DIALOGUES = """
@ travel | travel
how: pack light for a trip
= Pick clothes in colors that all match, bring one extra pair of shoes at most, roll your
  clothes, and use travel size toiletries.
= Plan outfits ahead, choose layers instead of bulky items, wash clothes on the way, and leave
  extra items at home.
how: deal with jet lag
= Switch to local time right away, get sunlight in the morning, stay awake until evening, and
  drink plenty of water.
= Shift your sleep an hour a day before leaving, spend time outdoors after you arrive, and avoid
  long naps.
how: find cheap flights
= Compare prices on several sites, be flexible with dates, book about two months ahead, and
  consider nearby airports.
= Search with flexible dates, fly midweek, set price alerts, and check smaller airports close to
  your destination.
how: stay safe while traveling alone
= Share your plans with someone at home, keep copies of your documents, stay in well reviewed
  places, and trust your instincts.
= Tell a friend where you are, keep valuables hidden, avoid empty streets at night, and keep
  your phone charged.
what: a travel visa
= A visa is official permission to enter a country for a set time and purpose, such as tourism,
  work or study.
= It is a document or stamp from a country that allows you to visit or stay there, often applied
  for before the trip.
what: travel insurance
= Travel insurance covers costs like medical care abroad, canceled trips and lost luggage, in
  exchange for a small fee.
= It is a policy that pays for problems on a trip, such as sickness, delays or lost bags.
how: learn a few useful phrases before a trip
= Learn greetings, please, thank you, numbers and how to ask for directions, and practice them
  with a phone app each day.
= Focus on about twenty useful phrases, write them on a card, and say them aloud every day
  before you go.
ask: What should I bring on a long flight? | How can I make a long flight more comfortable?
= Bring a neck pillow, ear plugs, a water bottle, snacks, a warm layer, and something to read or
  watch.
= Wear comfortable layers, drink water often, walk the aisle every few hours, and bring a pillow
  and ear plugs.
ask: What is Japan famous for? | What should I see in Japan?
= Japan is known for old temples in Kyoto, busy Tokyo, Mount Fuji, fast trains, and food like
  sushi and ramen.
= Visit Kyoto for temples and gardens, Tokyo for city life, and see Mount Fuji; ride the bullet
  train between cities.
ask: What is the capital of France? | Which city is the capital of France?
= The capital of France is Paris, known for the Eiffel Tower, the Louvre museum and its cafes.
= Paris is the capital of France; it sits on the river Seine and is the largest city in the
  country.
ask: What is the best time to visit Italy? | When should I go to Italy?
= Spring and early autumn, from April to June and September to October, bring mild weather and
  fewer crowds.
= Go in May, June or September, when it is warm but not too hot and the lines at museums are
  shorter.
how: save money while traveling
= Travel in the off season, stay in hostels or rentals with a kitchen, use public transport, and
  eat where locals eat.
= Cook some meals, walk or take buses, book in advance, and look for free museums and walking
  tours.
how: avoid getting sick while traveling
= Wash your hands often, drink bottled or treated water where tap water is unsafe, eat hot fresh
  food, and sleep enough.
= Keep hand gel with you, be careful with tap water and ice in some places, and get any vaccines
  your doctor suggests.
what: a passport
= A passport is an official travel document from your government that proves your identity and
  citizenship abroad.
= It is a small booklet that lets you leave and enter countries; check that it is valid for six
  months after your trip.
how: plan a road trip
= Choose a route with a few main stops, check your car, book places to sleep, and leave time for
  rest and surprises.
= Map out daily driving of no more than five or six hours, service the car, and pack water,
  snacks and a charger.
ask: What is the tallest mountain in the world? | Which mountain is the highest on Earth?
= Mount Everest is the highest mountain on Earth, at about 8,849 meters above sea level, on the
  border of Nepal and China.
= The tallest is Mount Everest in the Himalayas, rising about 8,849 meters.
how: choose a good hotel
= Read recent reviews, check the location on a map, compare the total price with fees, and look
  at the cancellation policy.
= Look for a central or well connected area, good recent ratings, and clear prices, and book a
  room you can cancel.
how: get around a new city
= Buy a public transport pass, download an offline map, walk the central areas, and ask locals
  for advice.
= Use the metro or buses with a day pass, keep a map on your phone, and explore the center on
  foot.
what: a layover
= A layover is a stop between two flights on the same trip, where you wait at an airport before
  your next flight.
= It is the time you spend at a connecting airport between flights, from under an hour to a
  whole day.
how: keep my passport safe
= Keep it in a hidden pouch or hotel safe, carry a photo copy, and store a scan of it in your
  email.
= Lock it away when you do not need it, carry a copy instead, and never leave it in a bag on a
  chair.

@ sports | sports
ask: How many players are on a soccer team? | How many players does a soccer team have on the
  field?
= A soccer team has eleven players on the field, including one goalkeeper.
= Each side fields eleven players: a goalkeeper plus ten outfield players such as defenders,
  midfielders and forwards.
how: get better at basketball
= Practice dribbling with both hands, shoot many free throws, work on footwork, and play games
  with better players.
= Spend time each day on ball handling and shooting form, and watch how skilled players move
  without the ball.
how: swim faster
= Work on a long, smooth stroke, breathe to both sides, keep your body flat, and do interval
  training a few times a week.
= Improve your technique first, kick from the hips, and mix easy laps with short fast sets.
what: the offside rule in soccer
= A player is offside if they are nearer the goal line than both the ball and the second last
  defender when the ball is passed to them.
= In simple terms, an attacker cannot wait behind the last defender for a pass; they must be
  level or behind when the ball is played.
how: warm up before exercise
= Do five to ten minutes of light cardio like jogging, then moving stretches such as leg swings
  and arm circles.
= Start slowly with brisk walking or easy cycling and add dynamic moves that match the sport you
  are about to play.
why: athletes need rest days
= Muscles repair and get stronger during rest, so rest days prevent injury and help performance
  improve.
= Training breaks down muscle fibers, and recovery time lets the body rebuild them and avoid
  burnout.
what: a marathon
= A marathon is a running race of 42.2 kilometers, or 26.2 miles.
= It is a long distance road race of 42.195 kilometers, named after the Greek legend of a runner
  from Marathon.
how: train for a 5k race
= Run three or four times a week for about eight weeks, add one longer run each week, and
  include an easy day between hard ones.
= Build up slowly with walk and run days, add a weekly longer run, and rest the day before the
  race.
ask: How does scoring work in tennis? | How do you keep score in tennis?
= Points go love, 15, 30, 40 and game; you need six games to win a set, with a two game lead.
= A game runs from love to 15, 30, 40, then game, and players win sets by taking six games with
  a margin of two.
how: improve my golf swing
= Keep a relaxed grip, turn your shoulders instead of swinging with your arms, keep your head
  still, and take lessons if you can.
= Work on a steady posture, a smooth tempo, and a full shoulder turn; filming your swing helps
  you see mistakes.
how: avoid injuries when playing sports
= Warm up, use the right gear, build strength gradually, and stop when you feel sharp pain.
= Stretch and warm up, wear proper shoes and pads, increase training slowly, and rest when you
  are tired.
how: choose running shoes
= Get fitted at a running store, choose shoes that feel comfortable right away, and leave a
  thumb's width of space at the toe.
= Pick shoes that match your foot and running style, try them late in the day, and replace them
  every 500 to 800 kilometers.
ask: How long is a basketball game? | How many minutes does a basketball game last?
= A professional NBA game has four quarters of twelve minutes each, so 48 minutes of playing
  time plus breaks.
= NBA games last 48 minutes over four quarters; college games are 40 minutes, in two halves.
what: the Olympic Games
= The Olympics are an international sports event held every four years, with summer and winter
  games in turn.
= They are the largest world sports competition, where athletes from many countries compete for
  gold, silver and bronze.
how: start lifting weights
= Begin with light weights and basic moves like squats, presses and rows, focus on form, and
  train two or three times a week.
= Learn proper technique with a trainer, start light, add weight slowly, and rest a day between
  sessions for each muscle.
how: get better at chess
= Learn basic openings, solve tactics puzzles daily, play slower games, and review your losses
  to find mistakes.
= Study simple endgames, do puzzles each day, and look at your own games afterward to spot
  missed moves.
why: a curveball curves in baseball
= The pitcher spins the ball, and the spin makes air pressure uneven on its sides, which pushes
  the ball off a straight path.
= Spin on the ball changes how air flows around it, and this force bends the path downward and
  to the side.
how: stay motivated to exercise
= Set small, clear goals, schedule workouts like appointments, exercise with a friend, and track
  your progress.
= Choose activities you enjoy, start with short sessions, and reward yourself when you keep your
  plan for a week.
what: a hat trick
= A hat trick is when one player scores three goals in a single game, a term used in soccer,
  hockey and cricket.
= It means the same player scores three times in one match.
how: learn to ride a bike as an adult
= Lower the seat so your feet touch the ground, push along with your feet to learn balance, then
  add pedaling on a gentle slope.
= Start on grass or an empty lot, glide with your feet down until you can balance, and then
  begin to pedal slowly.

@ music | music
how: start learning the guitar
= Learn a few open chords like G, C, D and E minor, practice switching between them for fifteen
  minutes a day, and play simple songs.
= Tune the guitar, learn four basic chords, and practice in short daily sessions; your
  fingertips will toughen in a few weeks.
how: learn to read sheet music
= Start with the notes on the treble staff, learn note lengths like whole, half and quarter
  notes, and read simple songs slowly.
= Learn the lines and spaces of the staff, then rhythm values, and practice by reading easy
  pieces every day.
how: sing better
= Breathe from your belly, warm up your voice with scales, stay relaxed in your throat, and
  record yourself to hear what to fix.
= Practice breathing and gentle warm ups, sing songs in a comfortable range, and take a few
  lessons with a teacher.
what: a chord
= A chord is three or more notes played at the same time, like the C major chord made of C, E
  and G.
= It is a group of notes sounded together that forms harmony, the base of most songs.
what: rhythm in music
= Rhythm is the pattern of long and short sounds and silences in time, which gives music its
  beat and movement.
= It is how notes are arranged in time, the pulse that makes you tap your foot.
how: practice piano effectively
= Practice a little every day, work slowly on hard parts with each hand alone, and use a
  metronome before speeding up.
= Set a goal for each session, play difficult bars slowly several times, and then put the hands
  together.
why: music gives people chills
= Surprising changes in a song, like a sudden swell or a new voice, trigger the brain's reward
  system and release dopamine.
= Strong emotional moments in music can excite the brain like other pleasures, causing
  goosebumps.
ask: Who was Mozart? | Can you tell me about Mozart?
= Mozart was an Austrian composer of the 1700s who wrote over 600 works, including symphonies,
  operas and piano concertos.
= Wolfgang Amadeus Mozart was a child prodigy from Salzburg and one of the most famous classical
  composers.
ask: What instrument is easiest to learn? | Which instrument should a beginner learn?
= The ukulele is one of the easiest, with four soft strings and simple chords; piano is also a
  good start for learning music.
= Many beginners start with the ukulele or the keyboard, because you can play simple songs
  within a few weeks.
how: write a song
= Start with a short idea, like a chorus line or a simple chord pattern, then build verses
  around it and bring the chorus back.
= Pick a theme, write a catchy chorus first, add two verses that tell a story, and keep the
  chords simple.
what: a metronome
= A metronome is a device that clicks at a steady speed to help musicians keep time while
  practicing.
= It ticks at a set tempo, measured in beats per minute, so you can practice without rushing or
  slowing down.
how: tune a guitar
= Use a clip on tuner, play each open string, and turn its peg until the tuner shows E, A, D, G,
  B and E.
= From the thickest to the thinnest string, tune to E A D G B E with a tuner app, turning the
  pegs slowly.
why: practicing scales is useful
= Scales train finger strength, speed and coordination, and they teach you the notes of each
  key.
= They build technique and help you learn keys, which makes reading and playing songs easier.
how: protect my hearing at concerts
= Wear ear plugs made for music, stand away from the speakers, and take breaks in quieter areas.
= Use musician ear plugs, which lower the volume but keep sound clear, and keep some distance
  from the stage speakers.
ask: What is the difference between a violin and a viola? | Is a viola just a big violin?
= A viola is a bit larger than a violin, has a deeper, warmer sound, and reads music in the alto
  clef.
= The viola is larger and tuned five notes lower than the violin, so its tone is darker and
  richer.
how: keep a steady tempo when playing
= Practice with a metronome at a slow speed, count out loud, and only increase the speed when
  you play evenly.
= Tap your foot, play along with a metronome or drum track, and record yourself to check for
  rushing.
what: jazz
= Jazz is a style of music that began in New Orleans, known for swing rhythms, blues notes and
  improvisation.
= It is an American music style built on improvisation and rich chords, made famous by players
  like Louis Armstrong.
how: choose my first piano
= A digital piano with 88 weighted keys is a good first choice; it is cheaper than an acoustic
  and never needs tuning.
= Look for full size weighted keys, a sustain pedal, and good sound; try a few in a store before
  buying.
how: memorize a piece of music
= Learn it in small sections, play each from memory several times, and link the sections
  together slowly.
= Break the piece into short parts, understand the chords, and practice starting from different
  points.
ask: How many keys does a piano have? | How many keys are on a standard piano?
= A standard piano has 88 keys: 52 white keys and 36 black keys.
= Most modern pianos have 88 keys, covering just over seven octaves.
"""
